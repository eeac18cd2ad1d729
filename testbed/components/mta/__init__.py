"""The MTA of every front end: SMTP in, a crash-safe queue, delivery to MAPIc or the Internet."""
