"""Attack: a module that ends its own process, with exit status 0, while it is imported, before
the probe can report anything.

The grader must: say the process ended (`kernel_died`), not blame itself (`no_evidence`).
"""

import os

print("imported; leaving before the grader can look")
os._exit(0)
