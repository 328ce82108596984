"""The investor area: how investing works here, and the signed-in investor's next steps."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("investors", __name__)


@bp.get("/")
def index():
    return render_template("investors/index.html", jurisdiction=current_app.config["PLATFORM_JURISDICTION"])
