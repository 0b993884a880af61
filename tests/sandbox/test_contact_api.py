"""Contact v3 through the Flask test client: departments with leaders, users/batch, find_by_department paging,
ids in the caller's id types, and the app's contact data range (41050 / 40004)."""

from __future__ import annotations

import pytest

DEPARTMENT = "/open-apis/contact/v3/departments/{}"
BATCH = "/open-apis/contact/v3/users/batch"
BY_DEPARTMENT = "/open-apis/contact/v3/users/find_by_department"


def members(api, department, **query):
    """Every page of a department's direct members (bounded), and the number of calls it took."""
    found, token, calls = [], "", 0
    while calls < 20:
        calls += 1
        page = api.get(BY_DEPARTMENT, department_id=department, page_token=token, **query).json["data"]
        found += page["items"]
        if not page["has_more"]:
            assert "page_token" not in page
            return found, calls
        token = page["page_token"]
    raise AssertionError("find_by_department never ended")


def test_department_leaders_in_the_requested_id_type(api):
    dept = api.get(DEPARTMENT.format("od-cs")).json["data"]["department"]
    assert (dept["name"], dept["i18n_name"]["en_us"], dept["parent_department_id"]) == ("客服部", "Customer Service",
                                                                                         "0")
    assert dept["leader_user_id"] == "ou_lead"
    assert dept["leaders"] == [{"leaderType": 1, "leaderID": "ou_lead"}, {"leaderType": 2, "leaderID": "ou_agent1"}]
    assert dept["member_count"] == 4 and dept["primary_member_count"] == 4
    by_user_id = api.get(DEPARTMENT.format("d_cs_night"), user_id_type="user_id",
                         department_id_type="department_id").json["data"]["department"]
    assert (by_user_id["leader_user_id"], by_user_id["parent_department_id"]) == ("u_nightlead", "d_cs")
    legacy = api.get(DEPARTMENT.format("od-sales"), user_id_type="user_id").json["data"]["department"]
    assert legacy["leader_user_id"] == "u_manager"


def test_department_errors(api, state):
    assert (api.get(DEPARTMENT.format("od-nowhere")).code, 400) == (40015, api.get(DEPARTMENT.format("od-x")).status)
    assert api.get(DEPARTMENT.format("od-cs"), department_id_type="name").code == 99992402
    state.set_contact_scope(departments=["od-ops"])
    refused = api.get(DEPARTMENT.format("od-cs"))
    assert (refused.status, refused.code) == (403, 40004)
    assert api.get(DEPARTMENT.format("od-ops")).code == 0


def test_find_by_department_pages_through_direct_members(api, state):
    for i in range(55):
        state.add_user(f"temp{i:02d}", departments=["od-ops"], leader="lead")
    found, calls = members(api, "od-ops", page_size=50)
    assert len(found) == 58 and calls == 2  # lead, ops1, ops2 and the 55
    assert [u["open_id"] for u in found[:3]] == ["ou_lead", "ou_ops1", "ou_ops2"]
    default, calls = members(api, "od-cs")
    assert calls == 1 and [u["user_id"] for u in default] == ["u_lead", "u_agent1", "u_agent2", "u_agent3"]
    assert default[1]["leader_user_id"] == "ou_lead" and default[1]["department_ids"] == ["od-cs"]
    night, _ = members(api, "od-cs")  # sub-departments' members are not direct members
    assert "u_night1" not in {u["user_id"] for u in night}


def test_find_by_department_id_types(api):
    found, _ = members(api, "d_pmo", department_id_type="department_id", user_id_type="user_id")
    lead = next(u for u in found if u["user_id"] == "u_lead")
    assert lead["department_ids"] == ["d_cs", "d_ops", "d_pmo"] and lead["leader_user_id"] == "u_admin"


@pytest.mark.parametrize(("query", "status", "code"), [
    ({"department_id": "od-cs", "page_size": "51"}, 400, 40011),
    ({"department_id": "od-cs", "page_size": "0"}, 400, 40011),
    ({"department_id": "od-cs", "page_token": "bm9wZQ=="}, 400, 40012),
    ({"department_id": "od-cs", "page_token": "%%%"}, 400, 40012),
    ({"department_id": "od-nowhere"}, 403, 40004),
    ({}, 400, 40001),
])
def test_find_by_department_errors(api, query, status, code):
    answer = api.get(BY_DEPARTMENT, **query)
    assert (answer.status, answer.code) == (status, code)


def test_a_page_token_belongs_to_its_department(api, state):
    for i in range(12):
        state.add_user(f"more{i}", departments=["od-ops"])
    token = api.get(BY_DEPARTMENT, department_id="od-ops").json["data"]["page_token"]
    assert api.get(BY_DEPARTMENT, department_id="od-cs", page_token=token).code == 40012


def test_users_batch(api):
    found = api.get(BATCH, user_ids=["u_agent1", "u_lead", "u_nobody"], user_id_type="user_id").json["data"]["items"]
    assert [(u["user_id"], u["name"], u["leader_user_id"]) for u in found] == [("u_agent1", "刘客服", "u_lead"),
                                                                               ("u_lead", "陈主管", "u_admin")]
    by_open_id = api.get(BATCH, user_ids=["ou_agent3"]).json["data"]["items"]
    assert by_open_id[0]["leader_user_id"] == "" and by_open_id[0]["open_id"] == "ou_agent3"


def test_users_batch_limits(api):
    assert api.get(BATCH, user_ids=[f"ou_{i}" for i in range(51)]).code == 40001
    assert api.get(BATCH, user_ids=[f"ou_{i}" for i in range(50)]).code == 0
    assert api.get(BATCH).code == 40001


def test_the_contact_data_range_is_configurable(api, state):
    state.set_contact_scope(departments=["od-cs"], users=["lead"])
    assert api.get(BATCH, user_ids=["ou_agent1", "ou_lead"]).code == 0  # sub-departments are in range too
    assert api.get(BATCH, user_ids=["ou_night1"]).code == 0
    # users/batch leaves out whom the app may not read ("不会返回相应的信息"), as it does unknown ids
    partial = api.get(BATCH, user_ids=["ou_agent1", "ou_ops1", "ou_nobody"])
    assert partial.code == 0 and [u["open_id"] for u in partial.json["data"]["items"]] == ["ou_agent1"]
    assert api.get("/open-apis/contact/v3/users/ou_ops1").code == 41050
    assert api.get(BY_DEPARTMENT, department_id="od-ops").code == 40004
    state.clear_contact_scope()
    assert api.get("/open-apis/contact/v3/users/ou_ops1").code == 0


def test_contact_faults(api, state):
    state.inject("user_batch", http_status=500, times=1)
    assert api.get(BATCH, user_ids=["ou_lead"]).status == 500
    state.inject("user_find_by_department", id="od-cs", code=41050, times=1)
    assert api.get(BY_DEPARTMENT, department_id="od-cs").code == 41050
    state.inject("department_get", id="od-cs", latency_s=0.01, code=40004, http_status=403)
    assert api.get(DEPARTMENT.format("od-cs")).status == 403
    assert api.get(BATCH, user_ids=["ou_lead"]).code == 0


def test_the_root_department_needs_the_whole_contact(api, state):
    root = api.get(BY_DEPARTMENT, department_id="0").json["data"]
    assert root == {"has_more": False, "items": []}  # nobody sits directly in the root here
    state.set_contact_scope(departments=["od-cs"])
    assert api.get(BY_DEPARTMENT, department_id="0").code == 40004


def test_a_malformed_department_id_is_a_param_error(api):
    assert api.get(DEPARTMENT.format("-bad")).code == 40001
    assert api.get(DEPARTMENT.format("x" * 65)).code == 40001


def test_users_batch_id_types_as_the_page_lists_them(api):
    """open_id (the default), union_id and user_id; anything else is refused before the contact service, and
    an id of another type than the one named is simply not found."""
    union = api.get(BATCH, user_ids=["ou_lead"]).json["data"]["items"][0]["union_id"]
    assert api.get(BATCH, user_ids=[union], user_id_type="union_id").json["data"]["items"][0]["open_id"] == "ou_lead"
    assert api.get(BATCH, user_ids=["ou_lead"], user_id_type="email").code == 99992402
    assert api.get(BATCH, user_ids=["ou_lead"], user_id_type="user_id").json["data"]["items"] == []
    assert api.get(BATCH, user_ids=["ou_lead"], department_id_type="dept").code == 99992402
