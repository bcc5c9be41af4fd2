"""The bottom layer every package may import: ranking and filter masks, the query object,
config building, run options, home and cache directories, thread control. It imports
nothing from lmrec but `lmrec.errors`, and no heavy library at import time."""
