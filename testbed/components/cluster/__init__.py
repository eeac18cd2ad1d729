"""The cluster manager over the MSS nodes (the plan's Veritas Cluster Server)."""
