"""The signed-in user's payments."""

from flask import Blueprint, render_template

from app.core.permissions import requires

bp = Blueprint("payments", __name__)


@bp.get("/")
@requires()
def index():
    return render_template("payments/index.html", payments=[])
