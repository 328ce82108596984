"""Settlement: closing the money side of a round — refunds of failed and cancelled rounds,
and the payout of a successful one to its owner once every reflection period has ended."""
