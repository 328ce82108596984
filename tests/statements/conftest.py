"""The statement tests reuse the payment fixtures (clock, sandbox, the ledger and wallet
invariants after every test) and the wallet tests' API caller and operator."""

from tests.payments.conftest import _ledger_invariants, campaign, clock, investor, pledge_api, sandbox  # noqa: F401
from tests.wallets.conftest import api, operator  # noqa: F401
