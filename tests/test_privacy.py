"""Contact details are masked on their way to the town, never in the station's own ledger."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from station.privacy import for_push, mask_name, mask_phone


def test_masks_as_registration_md_shows() -> None:
    assert mask_name("张三丰") == "张*" and mask_name("张*") == "张*" and mask_name("") == ""
    assert mask_phone("13800138000") == "138****8000"


def test_only_contact_fields_are_masked_and_the_original_is_untouched() -> None:
    record = {"kind": "vehicle", "driver_name": "张三", "driver_phone": "13800138000",
              "host": "采购部 李经理", "operator": "guard1", "plate": "渝A12345", "name": None}
    pushed = for_push(record, send_contact_details=False)
    assert pushed == {**record, "driver_name": "张*", "driver_phone": "138****8000"}
    assert record["driver_name"] == "张三"
    assert for_push(record, send_contact_details=True) == record


@given(st.text(alphabet="0123456789", min_size=0, max_size=20))
def test_a_masked_phone_never_shows_the_middle(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    if len(phone) >= 8:
        assert masked[:3] == phone[:3] and masked[-4:] == phone[-4:]
        assert set(masked[3:-4]) == {"*"}
    else:
        assert set(masked) <= {"*"}


def test_the_sync_client_pushes_registration_records_masked_unless_configured() -> None:
    from station.ledger import Record
    from sync.client import entry_json

    visitor = Record(kind="visitor", time="2021-02-22T08:00:00.000+08:00", day="2021-02-22",
                     clock_synced=True, direction="in", name="王五", phone="13912345678",
                     host="采购部", operator="guard1", decision="admit")
    pushed = entry_json(visitor)
    assert (pushed["name"], pushed["phone"], pushed["host"]) == ("王*", "139****5678", "采购部")
    assert "day" not in pushed and visitor.name == "王五"  # the record itself stays whole
    whole = entry_json(visitor, send_contact_details=True)
    assert (whole["name"], whole["phone"]) == ("王五", "13912345678")
