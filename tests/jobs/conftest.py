"""The job tests reuse the payment fixtures: a settable clock, a fresh sandbox gateway
whose counters count gateway calls, and the ledger invariants after every test."""

from tests.payments.conftest import _ledger_invariants, clock, sandbox  # noqa: F401
