"""The local stack as a process, driven through its public surfaces."""

from tests.support.local_stack import local_stack  # noqa: F401 - this package's stack
