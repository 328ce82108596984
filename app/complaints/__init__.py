"""Complaints (ECSP Art. 7): filed by anyone signed in, answered by the operator, kept on a register."""
