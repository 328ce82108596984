"""The offer's disclosure document as data: the EU Key Investment Information Sheet or the
Russian investment proposal, chosen by the deployment's jurisdiction.

EU: Annex I of Regulation (EU) 2020/1503 in the parts of the Delegated Regulation 2022/2119
template, reduced to what the platform knows: the ESMA disclaimer under the title, the owner
and the project, the main features of the offer, risk factors, the loan terms, the investor's
rights with complaints and redress, fees, and the projected impact. RU: the items of an
investment proposal under 259-FZ Art. 13, with no ECSP text and no reflection period.

The fixed texts are English msgids translated by the catalog, so one frozen content renders in
each of the deployment's languages (``kiis_pdf.render_pdf``); the JSON keeps them in the
deployment's own language, as frozen.
"""

import hashlib
import json
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.campaigns.schedule import instalments

MAX_PAGES = 6
#: The language each jurisdiction's document is frozen in (the others are translations).
PRIMARY_LANGUAGE = {"EU": "en", "RU": "ru"}

TITLE = {"EU": _l("Key Investment Information Sheet"), "RU": _l("Investment proposal")}
DISCLAIMER = _l(
    "This crowdfunding offer has been neither verified nor approved by competent authorities or the "
    "European Securities and Markets Authority (ESMA). The appropriateness of your experience and "
    "knowledge has not necessarily been assessed before you were granted access to this investment. "
    "By making this investment, you assume full risk of taking this investment, including the risk "
    "of partial or entire loss of the money invested.")
RISK_WARNING = {
    "EU": _l("An investment in a crowdfunding project includes the risk of losing the entirety of the money "
             "invested."),
    "RU": _l("Investing through an investment platform is high-risk and may lead to the loss of all the money "
             "invested. Before accepting this proposal, assess the risks yourself."),
}
RISK_FACTORS = [
    _l("Project risk: the energy savings that repay the loan may be smaller or later than projected."),
    _l("Credit risk: the project owner may pay late or default; your investment is not covered by a deposit "
       "guarantee scheme or an investor compensation scheme."),
    _l("Liquidity risk: the loan cannot be sold or repaid early at your request."),
    _l("Platform risk: if the platform stops operating, servicing of the loan may be delayed."),
]
IF_TARGET_MISSED = {
    "EU": _l("If the target is not reached when the round closes, the round fails and every pledge is refunded in "
             "full to the investor's payment method."),
    "RU": _l("If the minimum amount is not raised by the end of the proposal, the proposal ends and the money is "
             "returned to every investor in full."),
}
REFLECTION = _l("Non-sophisticated investors may revoke a pledge within %(days)s calendar days of making it, without "
                "giving a reason and without penalty, from their pledge page (the same means as investing).")
RESPONSIBILITY = _l("The project owner is responsible for the information about itself and the project in this "
                    "document, and declares that to its knowledge none of it is omitted or misleading.")
FEES_NOTE = _l("Investors pay no fees. The project owner pays the platform fee on a successful round.")
RIGHTS = {
    "EU": [
        _l("You receive this sheet, and every later version, before you are bound; each pledge records the version "
           "it was made on."),
        _l("If the sheet changes while your pledge is live, you are told by e-mail with the new version."),
        _l("Your money is held in escrow until the round succeeds; if it fails it is refunded in full."),
        _l("You receive the repayments of the loan in proportion to your share, with a statement of each."),
    ],
    "RU": [
        _l("The investment contract is concluded when the platform transfers your money to the person raising "
           "investments; until then you may ask for the money back if the proposal ends without success."),
        _l("If this proposal changes while your pledge is live, you are told by e-mail with the new version."),
        _l("The platform keeps the register of investment contracts and gives you an extract on request."),
    ],
}
COMPLAINTS = _l("Complaints: file one from the Complaints page of your account (or about this campaign from its "
                "page). You receive a reference at once and an answer within %(days)s days.")
REDRESS = {
    "EU": _l("Redress: if the answer does not settle the matter, you may go to the national competent authority "
             "or an out-of-court dispute resolution body (FIN-NET), or to court."),
    "RU": _l("Redress: if the answer does not settle the matter, you may write to the Bank of Russia (its consumer "
             "protection service), the financial ombudsman where the law provides it, or go to court."),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deployment() -> tuple[str, tuple[str, ...]]:
    """(jurisdiction, languages): the primary language first, then the deployment's others."""
    code = current_app.config["PLATFORM_JURISDICTION"].upper()
    primary = PRIMARY_LANGUAGE[code]
    others = tuple(lang for lang in current_app.config["LANGUAGES"] if lang != primary)
    return code, (primary, *others)


def texts(jurisdiction: str, *, reflection_days: int, complaint_days: int) -> dict[str, Any]:
    """The fixed texts of one jurisdiction's document, in the current locale."""
    return {
        "title": str(TITLE[jurisdiction]),
        "disclaimer": str(DISCLAIMER) if jurisdiction == "EU" else None,
        "risk_warning": str(RISK_WARNING[jurisdiction]),
        "risk_factors": [str(risk) for risk in RISK_FACTORS],
        "if_target_missed": str(IF_TARGET_MISSED[jurisdiction]),
        "reflection_period": str(REFLECTION % {"days": reflection_days}) if reflection_days else None,
        "responsibility": str(RESPONSIBILITY),
        "fees_note": str(FEES_NOTE),
        "rights": [str(right) for right in RIGHTS[jurisdiction]],
        "complaints": str(COMPLAINTS % {"days": complaint_days}),
        "redress": str(REDRESS[jurisdiction]),
    }


def owner_facts(owner, offers: list[dict], campaign=None) -> dict:
    """What the platform knows of the project owner: who, where, since when, its record here,
    and the registered legal entity when the owner gave it."""
    facts = {"id": owner.id, "name": owner.name, "country": owner.country,
             "on_platform_since": owner.created_at.date().isoformat(), "other_offers": offers}
    if campaign is not None and campaign.owner_registration_number is not None:
        facts["legal_entity"] = {"legal_form": campaign.owner_legal_form, "legal_name": campaign.owner_legal_name,
                                 "registration_country": campaign.owner_registration_country,
                                 "registration_number": campaign.owner_registration_number}
    return facts


def build_content(campaign, owner, *, version: int, now: datetime, fee_bps: int,
                  other_offers: list[dict] | None = None) -> dict:
    """The document as data: what the PDF shows and what the JSON download contains."""
    jurisdiction, languages = deployment()
    reflection_days = current_app.config.get("REFLECTION_DAYS", {}).get(jurisdiction, 0)
    complaint_days = current_app.config["COMPLAINT_RESPONSE_DAYS"][jurisdiction]
    with force_locale(languages[0]):
        fixed = texts(jurisdiction, reflection_days=reflection_days, complaint_days=complaint_days)
    loan = campaign.instrument_type == "loan"
    example = None
    if loan:
        principal = 1000 * 100
        plan = instalments(principal, campaign.interest_rate_bps, campaign.term_months, campaign.repayment)
        example = {
            "invested": principal,
            "instalments": len(plan),
            "first_instalment": plan[0].total,
            "total_interest": sum(i.interest for i in plan),
            "total_repaid": sum(i.total for i in plan),
        }
    return {
        "kiis_version": version,
        "frozen_at": now.isoformat(),
        "jurisdiction": jurisdiction,
        "language": languages[0],
        "languages": list(languages),
        "title": fixed["title"],
        "disclaimer": fixed["disclaimer"],
        "risk_warning": fixed["risk_warning"],
        "project_owner": owner_facts(owner, other_offers or [], campaign) | {"responsibility": fixed["responsibility"]},
        "project": {
            "campaign_id": campaign.id,
            "title": campaign.title,
            "summary": campaign.summary,
            "description": campaign.description,
            "category": campaign.category,
            "country": campaign.country,
            "location": campaign.location,
            "sdgs": campaign.sdgs,
        },
        "offer": {
            "currency": campaign.currency,
            "target_amount": campaign.target_amount,
            "max_amount": campaign.max_amount,
            "min_pledge": campaign.min_pledge,
            "opens_at": campaign.opens_at.isoformat() if campaign.opens_at else None,
            "closes_at": campaign.closes_at.isoformat(),
            "if_target_missed": fixed["if_target_missed"],
            "reflection_days": reflection_days,
            "reflection_period": fixed["reflection_period"],
            "risk_class": campaign.risk_class,
        },
        "instrument": {
            "type": campaign.instrument_type,
            "interest_rate_bps": campaign.interest_rate_bps,
            "term_months": campaign.term_months,
            "repayment": campaign.repayment,
            "example_per_1000": example,
        },
        "fees": {"investor_fee_bps": 0, "project_owner_fee_bps": fee_bps, "note": fixed["fees_note"]},
        "risk_factors": fixed["risk_factors"],
        "investor_rights": {"rights": fixed["rights"], "complaints": fixed["complaints"],
                            "complaint_response_days": complaint_days, "redress": fixed["redress"]},
        "impact": {
            "co2_tonnes_per_year": campaign.co2_tonnes_per_year,
            "energy_mwh_per_year": campaign.energy_mwh_per_year,
        },
    }


def to_json_bytes(content: dict) -> bytes:
    """Canonical JSON (sorted keys, UTF-8), so the same content always hashes the same."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8")
