"""Publishers restyle the pages without forking (Trifid's templates, Pubby's Velocity): `KB_TEMPLATES_DIR`
names a folder whose Jinja templates replace the packaged ones of the same name; the others stay."""

from __future__ import annotations

from pathlib import Path

from conftest import make_settings

BASE_OVERRIDE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
{% block head %}{% endblock %}</head><body><header>OUR-OWN-HEADER</header><nav aria-label="Site">x</nav>
<main>{% block main %}{% endblock %}</main></body></html>"""


def test_templates_in_the_folder_replace_the_packaged_ones(tmp_path: Path):
    from ld_sample_data import sample_store

    from server import create_app

    (tmp_path / "base.html").write_text(BASE_OVERRIDE, encoding="utf-8")
    app = create_app(make_settings(templates_dir=str(tmp_path)), store=sample_store(), load_if_empty=False)
    c = app.test_client()
    for url in ("/", "/doc/agency/ankara-police", "/def"):
        page = c.get(url, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert "OUR-OWN-HEADER" in page, url
    assert "Ankara Police Department" in c.get("/doc/agency/ankara-police", headers={"Accept": "text/html"}).get_data(as_text=True)
    plain = create_app(make_settings(), store=sample_store(), load_if_empty=False).test_client()
    assert "OUR-OWN-HEADER" not in plain.get("/").get_data(as_text=True)


def test_a_missing_folder_is_refused_at_start(tmp_path: Path):
    import pytest

    from ld_sample_data import sample_store

    from server import create_app

    with pytest.raises(ValueError, match="templates"):
        create_app(make_settings(templates_dir=str(tmp_path / "nope")), store=sample_store(), load_if_empty=False)
