"""The co-browse session's pure core: the mirror's re-check (``scrub``), the control token
(``control``) and how the stream is relayed to agents (``relay``). No I/O, no clock."""
