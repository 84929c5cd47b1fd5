"""A gzipped body is other bytes than the identity body: its validator is weak, and revalidation still works."""

import gzip

import pytest


@pytest.mark.parametrize("path", ["/.well-known/void", "/catalog", "/doc/convention/cets-197.ttl"])
def test_gzipped_responses_carry_a_weak_etag_that_revalidates(client, path):
    plain = client.get(path, headers={"Accept": "text/turtle"})
    zipped = client.get(path, headers={"Accept": "text/turtle", "Accept-Encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"].startswith('W/"')
    again = client.get(path, headers={"Accept": "text/turtle", "Accept-Encoding": "gzip",
                                      "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
