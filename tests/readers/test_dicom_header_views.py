"""``projection_view``: the projection of a radiograph from its header words, never copying free text."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from hipmonai.readers.dicom_header import ProjectionView, projection_view


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"ViewPosition": "AP"}, ProjectionView("ap", "ViewPosition", "AP")),
        ({"ViewPosition": "PA "}, ProjectionView("ap", "ViewPosition", "PA")),
        ({"ViewPosition": "RLO"}, ProjectionView("lateral", "ViewPosition", "RLO")),
        ({"ViewPosition": "AP", "ProtocolName": "Scout"}, ProjectionView("scout", "ProtocolName")),
        ({"ViewPosition": "AP", "SeriesDescription": "Hip lateral"}, ProjectionView("ap", "ViewPosition", "AP")),
        ({"ViewPosition": "CC", "SeriesDescription": "Pelvis_AP"}, ProjectionView("ap_text", "SeriesDescription")),
        ({"SeriesDescription": "HIP AP + LAT"}, ProjectionView("unlabelled")),
        ({"SeriesDescription": "Pelvis bilateral"}, ProjectionView("unlabelled")),
        ({"SeriesDescription": "Pelvis AP", "ImageComments": "Lauenstein"}, ProjectionView("lateral", "ImageComments")),
        ({"ImageComments": "topogram"}, ProjectionView("scout", "ImageComments")),
        ({}, ProjectionView("unlabelled")),
    ],
)
def test_projection_view_rule(tags, expected):
    ds = Dataset()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    view = projection_view(ds)
    assert view == expected
    assert view.frontal == (expected.kind in ("ap", "ap_text", "unlabelled"))


def test_descriptions_name_tags_not_values():
    assert ProjectionView("lateral", "ViewPosition", "LL").describe() == "is ViewPosition LL"
    assert ProjectionView("lateral", "ProtocolName").describe() == "is a lateral view (ProtocolName)"
    assert ProjectionView("scout", "SeriesDescription").describe() == "is a scout/localizer (SeriesDescription)"
    assert ProjectionView("ap_text", "ImageComments").describe() == "is labelled AP/PA in ImageComments only"
    assert ProjectionView("unlabelled").describe() == "has no view in the header"
