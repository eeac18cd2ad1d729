"""array_readonly: the disk array turns read-only (a controller protecting itself). Reads work;
every write (new mail, flags, folders) fails with EROFS, which MAPIc reports as io_error."""

from __future__ import annotations

from testbed.faults.array_offline import ArrayStatusFault
from testbed.faults.registry import register


@register
class ArrayReadonly(ArrayStatusFault):
    name = "array_readonly"
    description = "make the disk array read-only: reads work, writes get an I/O error"
    status = "readonly"
    write_probe = True
