"""Every speed budget, in one place: the benchmarks print PASS/FAIL against these, and
tests/test_budgets.py asserts the deterministic ones (instruction and system-call counts).

Instruction counts (callgrind) and system calls (strace) decide; wall-clock
figures are reported beside them as information, except where no count
exists (rebuild, new connections, memory).
"""

# Start-up, instructions under callgrind, against the floor (a .pth importing an empty module).
STEADY_PASS_VS_FLOOR = 1.02  # `python -c pass`, steady state
OS_STORE_PASS_VS_FLOOR = 1.02  # the same with CERT_SESSION_OS_STORE=1
IMPORT_REQUESTS_OVER_FLOOR = 3_500_000  # `python -c "import requests"`, instructions over the floor's

# Per request (keep-alive GETs on one Session), against bare requests in the same run.
PER_REQUEST_VS_BARE = 1.03  # instructions per request
PER_REQUEST_EXTRA_SYSCALLS = 1  # system calls per request over bare's (a stat of an own bundle)

# Wall-clock budgets, where no count can stand in.
REBUILD_VS_BARE = 3.0  # the first start after an input changed / a bare start
CONNECTION_MERGED_VS_BASE = 1.05  # a new HTTPS connection with the merged bundle / the base bundle
PRELOAD_VS_PLAIN = 0.3  # a new connection with the preloaded context / plain requests, same bundle
RSS_OVER_BARE_KIB = 1024  # peak RSS of `python -c pass` over bare's
