"""The co-browse session's pure core: the mirror's re-check (``scrub``), the control token
(``control``), how the stream is relayed to agents (``relay``) and read by their views, each
message decoded once per node (``stream``). No I/O, no clock."""
