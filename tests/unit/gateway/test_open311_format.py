"""Open311 on the wire (services.gateway.open311_format): the POST form, the XML and JSON
documents, errors, and the expected time from a case's deadlines."""

from xml.etree import ElementTree

import pytest

from services.common import errors
from services.gateway import open311_format as fmt


def test_the_form_keeps_each_field_once_and_gathers_attributes_per_code():
    form = fmt.read_form(
        [
            ("api_key", "k"),
            ("service_code", "M005"),
            ("service_code", "M999"),  # a repeated field: the first value counts
            ("attribute[materials_missing][]", "房屋所有权证"),
            ("attribute[materials_missing][]", "租赁合同"),
            ("attribute[materials_presented]", "身份证"),
            ("zipcode", "210018"),  # an extension nobody asked for: ignored
            ("attribute[]", "no code"),  # no code: ignored
        ]
    )
    assert form == {
        "api_key": "k",
        "service_code": "M005",
        "attributes": {
            "materials_missing": ["房屋所有权证", "租赁合同"],
            "materials_presented": ["身份证"],
        },
    }


def test_the_form_refuses_too_many_attribute_values():
    pairs = [("attribute[materials_missing][]", str(i)) for i in range(fmt.MAX_ATTRIBUTE_VALUES)]
    assert len(fmt.read_form(pairs)["attributes"]["materials_missing"]) == 200
    with pytest.raises(errors.InvalidField) as refused:
        fmt.read_form([*pairs, ("attribute[x]", "one more")])
    assert refused.value.field == "attribute"


def test_the_format_is_the_resource_extension():
    assert fmt.format_of("/open311/v2/services.xml") == "xml"
    assert fmt.format_of("/open311/v2/services.json") == "json"
    assert fmt.format_of("/open311/v2/nothing") == "json"


def test_services_as_xml_have_a_declaration_and_one_element_per_service():
    body, content_type = fmt.render(
        "services",
        [
            {"service_code": "M001", "service_name": "企业开办", "metadata": True, "group": None},
            {"service_code": "M002", "service_name": "个体", "metadata": False, "group": "市场"},
        ],
        "xml",
    )
    assert content_type == "text/xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<services>')
    root = ElementTree.fromstring(body)
    assert root.tag == "services"
    services = root.findall("service")
    assert [s.findtext("service_code") for s in services] == ["M001", "M002"]
    assert [s.findtext("metadata") for s in services] == ["true", "false"]
    assert services[0].find("group").text is None  # null: an empty element
    assert services[0].findtext("service_name") == "企业开办"


def test_a_service_definition_nests_attributes_and_their_values():
    definition = {
        "service_code": "M005",
        "attributes": [
            {
                "variable": True,
                "code": "materials_missing",
                "datatype": "multivaluelist",
                "required": False,
                "order": 1,
                "values": [{"key": "租赁合同", "name": "租赁合同（关键材料）"}],
            }
        ],
    }
    root = ElementTree.fromstring(fmt.render("service_definition", definition, "xml")[0])
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "M005"
    [attribute] = root.findall("attributes/attribute")
    assert attribute.findtext("code") == "materials_missing"
    assert attribute.findtext("order") == "1"
    assert attribute.findtext("required") == "false"
    [value] = attribute.findall("values/value")
    assert (value.findtext("key"), value.findtext("name")) == ("租赁合同", "租赁合同（关键材料）")


def test_requests_and_errors_roots():
    root = ElementTree.fromstring(
        fmt.render("service_requests", [{"service_request_id": "XW-1"}], "xml")[0]
    )
    assert root.tag == "service_requests"
    assert root.find("request").findtext("service_request_id") == "XW-1"
    error = errors.InvalidField("缺少 service_code", "service_code")
    root = ElementTree.fromstring(fmt.render("errors", fmt.error_document(error), "xml")[0])
    assert root.tag == "errors"
    assert root.find("error").findtext("code") == "400"
    assert root.find("error").findtext("description") == "缺少 service_code（service_code）"


def test_json_keeps_chinese_and_nulls():
    body, content_type = fmt.render("services", [{"service_name": "企业开办", "x": None}], "json")
    assert content_type == "application/json; charset=utf-8"
    assert body.decode("utf-8") == '[{"service_name": "企业开办", "x": null}]'


def test_an_echoed_control_character_cannot_break_the_xml():
    error = errors.NotFound("service_code a\x01b 不存在", "service_code")
    body = fmt.render("errors", fmt.error_document(error), "xml")[0]
    assert "a\ufffdb" in ElementTree.fromstring(body).find("error").findtext("description")


@pytest.mark.parametrize(
    "error, status",
    [
        (errors.InvalidField("x", "f"), 400),
        (errors.Conflict("x"), 400),
        (errors.BadRequest("x"), 400),
        (errors.Unauthorized("x"), 403),
        (errors.Forbidden("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.PayloadTooLarge("x"), 413),
        (errors.ServiceUnavailable("x"), 503),
    ],
)
def test_error_statuses_are_the_specs(error, status):
    assert fmt.error_status(error) == status
    assert fmt.error_document(error)[0]["code"] == status


def test_times_are_shown_in_shanghai_with_their_offset():
    assert fmt.local_time("2026-12-01T02:00:00+00:00") == "2026-12-01T10:00:00+08:00"
    assert fmt.local_time(None) is None
    shown = fmt.with_local_times(
        {"requested_datetime": "2026-12-01T02:00:00Z", "description": "2026-12-01T02:00:00Z"}
    )
    assert shown == {
        "requested_datetime": "2026-12-01T10:00:00+08:00",
        "description": "2026-12-01T02:00:00Z",
    }


def test_the_expected_time_is_the_open_deadline_else_the_last_one():
    met = {"due_at": "2026-12-03T09:00:00+00:00", "met_at": "2026-12-02T09:00:00+00:00"}
    open_ = {
        "due_at": "2026-12-10T09:00:00+00:00",
        "met_at": None,
        "breached": False,
        "working_days_left": 4,
    }
    assert fmt.expected_datetime([met, open_]) == "2026-12-10T17:00:00+08:00"
    assert fmt.expected_datetime([met]) == "2026-12-03T17:00:00+08:00"
    assert fmt.expected_datetime([]) is None
