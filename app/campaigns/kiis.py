"""Key Investment Information Sheet: JSON content and its PDF rendering.

Content follows Annex I of Regulation (EU) 2020/1503 and the template of Delegated
Regulation 2022/2119, reduced to what the platform knows: the disclaimer under the
title, the owner and the project, the main features of the offer, what happens if
the target is missed, risk factors, fees, the loan terms and an example schedule,
and the projected impact. At most 6 A4 pages.
"""

import hashlib
import json
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from app.campaigns.schedule import instalments
from app.core.money import format_money

FONTS = Path(__file__).parent / "fonts"
MAX_PAGES = 6

DISCLAIMER = (
    "This crowdfunding offer has been neither verified nor approved by competent authorities or the "
    "European Securities and Markets Authority (ESMA). The appropriateness of your experience and "
    "knowledge has not necessarily been assessed before you were granted access to this investment. "
    "By making this investment, you assume full risk of taking this investment, including the risk "
    "of partial or entire loss of the money invested."
)
RISK_WARNING = "An investment in a crowdfunding project includes the risk of losing the entirety of the money invested."
RISK_FACTORS = [
    "Project risk: the energy savings that repay the loan may be smaller or later than projected.",
    "Credit risk: the project owner may pay late or default; your investment is not covered by a deposit "
    "guarantee scheme or an investor compensation scheme.",
    "Liquidity risk: the loan cannot be sold or repaid early at your request.",
    "Platform risk: if the platform stops operating, servicing of the loan may be delayed.",
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_content(campaign, owner, *, version: int, now: datetime, fee_bps: int) -> dict:
    """The KIIS as data: what the PDF shows and what the JSON download contains."""
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
        "disclaimer": DISCLAIMER,
        "risk_warning": RISK_WARNING,
        "project_owner": {"id": owner.id, "name": owner.name, "country": owner.country},
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
            "if_target_missed": "If the target is not reached when the round closes, the round fails and every "
            "pledge is refunded in full to the investor's payment method.",
            "reflection_period": "Non-sophisticated investors may revoke a pledge within 4 calendar days of making "
            "it, without giving a reason and without penalty.",
            "risk_class": campaign.risk_class,
        },
        "instrument": {
            "type": campaign.instrument_type,
            "interest_rate_bps": campaign.interest_rate_bps,
            "term_months": campaign.term_months,
            "repayment": campaign.repayment,
            "example_per_1000": example,
        },
        "fees": {
            "investor_fee_bps": 0,
            "project_owner_fee_bps": fee_bps,
            "note": "Investors pay no fees. The project owner pays the platform fee on a successful round.",
        },
        "risk_factors": RISK_FACTORS,
        "impact": {
            "co2_tonnes_per_year": campaign.co2_tonnes_per_year,
            "energy_mwh_per_year": campaign.energy_mwh_per_year,
        },
    }


def to_json_bytes(content: dict) -> bytes:
    """Canonical JSON (sorted keys, UTF-8), so the same content always hashes the same."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8")


class _Sheet(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.cell(0, 8, f"Key Investment Information Sheet · page {self.page_no()}", align="C")


def render_pdf(content: dict) -> bytes:
    """The KIIS as an A4 PDF (DejaVu Sans, so Cyrillic and Baltic letters render)."""
    pdf = _Sheet(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(content["frozen_at"]))
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    width = pdf.epw
    project, offer, instrument = content["project"], content["offer"], content["instrument"]
    currency = offer["currency"]

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 12)
        pdf.multi_cell(width, 7, text)
        pdf.set_font("DejaVu", "", 10)

    def para(text: str) -> None:
        pdf.multi_cell(width, 5, text)
        pdf.ln(1)

    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(width, 8, f"Key Investment Information Sheet: {project['title']}")
    pdf.set_font("DejaVu", "", 8)
    para(content["disclaimer"])
    para(f"Version {content['kiis_version']}, frozen {content['frozen_at']}")
    pdf.set_font("DejaVu", "B", 10)
    para(content["risk_warning"])
    pdf.set_font("DejaVu", "", 10)

    heading("Part A · Project owner and project")
    para(f"Project owner: {content['project_owner']['name']} ({content['project_owner']['country']})")
    para(f"Location: {project['location']}, {project['country']} · category: {project['category']} · "
         f"UN SDGs: {', '.join(str(s) for s in project['sdgs'])}")
    para(project["summary"])
    para(project["description"][:3000])

    heading("Part B · Main features of the offer")
    para(f"Target: {format_money(offer['target_amount'], currency)} · maximum: "
         f"{format_money(offer['max_amount'], currency)} · minimum pledge: "
         f"{format_money(offer['min_pledge'], currency)}")
    para(f"Opens: {offer['opens_at'] or 'on approval'} · closes (deadline): {offer['closes_at']}")
    para(f"Risk class assigned by the platform: {offer['risk_class']}")
    para(offer["if_target_missed"])
    para(offer["reflection_period"])

    heading("Part C · Risk factors")
    for risk in content["risk_factors"]:
        para(f"• {risk}")

    heading("Part D · Loan terms and fees")
    if instrument["type"] == "loan":
        para(f"Interest: {instrument['interest_rate_bps'] / 100:.2f} % a year · term: {instrument['term_months']} "
             f"months · repayment: {instrument['repayment']}, monthly")
        ex = instrument["example_per_1000"]
        para(f"Example for {format_money(ex['invested'], currency)} invested: {ex['instalments']} instalments, the "
             f"first {format_money(ex['first_instalment'], currency)}, total interest "
             f"{format_money(ex['total_interest'], currency)}, total repaid "
             f"{format_money(ex['total_repaid'], currency)}.")
    else:
        para("This is a donation campaign: no interest and no repayment.")
    para(content["fees"]["note"] + f" Project owner fee: {content['fees']['project_owner_fee_bps'] / 100:.2f} %.")

    heading("Part E · Projected impact")
    para(f"{content['impact']['co2_tonnes_per_year']:,.0f} tonnes of CO2 avoided and "
         f"{content['impact']['energy_mwh_per_year']:,.0f} MWh of energy saved or produced a year (projected).")
    if pdf.page_no() > MAX_PAGES:
        raise ValueError(f"The KIIS would take {pdf.page_no()} pages; the limit is {MAX_PAGES}.")
    return bytes(pdf.output())
