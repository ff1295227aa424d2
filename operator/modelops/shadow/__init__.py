"""Shadow comparison: the comparer that mirrored requests go to during setMirror steps."""
