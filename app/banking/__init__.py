"""The bank rails, with no domain rules: IBAN/BIC checks, ISO 11649 payment references,
EPC (GiroCode) QR payloads, outgoing SEPA credit-transfer files (pain.001.001.03) and
incoming statements (camt.053, and 1CClientBankExchange for an RU deployment).

A lower floor: it imports only ``app.core`` and libraries, never payments, investors,
campaigns or wallets. Reconciling an entry with a pledge or a withdrawal is the caller's
business; this package only reads and writes the bank's formats.
"""
