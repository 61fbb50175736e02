"""Referral channels: where a referred support session's handoff packet goes (docs/support.md)."""
