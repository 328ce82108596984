"""Repayment sweeps: instalments fall due, then overdue, then the loan defaults."""

from datetime import datetime

from flask import current_app
from sqlalchemy import exists, select

from app.jobs.registry import Job
from app.loans import collection, services
from app.loans.models import Instalment, InstalmentStatus, Loan, LoanStatus


def _due(now: datetime):
    return (Instalment.status == InstalmentStatus.SCHEDULED) & (Instalment.due_at <= now) & Instalment.loan_id.in_(
        select(Loan.id).where(Loan.status.in_([LoanStatus.ACTIVE, LoanStatus.OVERDUE])))


def _overdue(now: datetime):
    return (Instalment.status == InstalmentStatus.DUE) & (
        Instalment.due_at <= now - current_app.config["LOAN_OVERDUE_AFTER"]) & Instalment.loan_id.in_(
        select(Loan.id).where(Loan.status.in_([LoanStatus.ACTIVE, LoanStatus.OVERDUE])))


def _default(now: datetime):
    limit = now - current_app.config["LOAN_DEFAULT_AFTER"]
    return Loan.status.in_([LoanStatus.ACTIVE, LoanStatus.OVERDUE]) & exists().where(
        Instalment.loan_id == Loan.id, Instalment.status.in_([InstalmentStatus.DUE, InstalmentStatus.OVERDUE]),
        Instalment.due_at <= limit)


instalments_due = Job("instalments due", Instalment, _due, lambda i, now: services.mark_due(i, now=now))
instalments_overdue = Job("instalments overdue", Instalment, _overdue, lambda i, now: services.mark_overdue(i, now=now))
instalments_collected = Job("instalments collected by mandate", Instalment, collection.collectable,
                            collection.collect)
loans_defaulted = Job("loans defaulted", Loan, _default, lambda loan, now: services.mark_defaulted(loan, now=now))

JOBS = [instalments_due, instalments_collected, instalments_overdue, loans_defaulted]
