"""WeCom (企业微信) exports: contact details, change callbacks, chat archive, staff list.

Accounts are ``wecom:<external_userid>``. Staff and customers are told
apart by the id itself: WeCom external user ids start with ``wm`` or ``wo``
(the prefixes are the preset option ``external_prefixes``); anything else
is a staff userid.

- contacts: one account per contact (``first_seen`` = its earliest
  ``follow_user.createtime``, ``channel_code`` = the ``state`` of the
  earliest follow that has one); identifiers ``external_userid``,
  ``unionid``, ``nickname`` (the contact's WeChat name) and the
  ``remark_mobiles`` as phones, the ``remark`` as a ``name`` (sales reps type
  the customer's real name there, with notes that
  :func:`scrm_lib.ingest.names.clean_person_name` drops: ``吴敏雪-纸尿裤``,
  ``孙梅 杭州`` → the name; ``王女士`` → no name); one ``wecom_follow`` event per following
  staff member (attributes: staff, state, add_way, tags). A response with
  ``errcode`` other than 0 is rejected, and so is a record whose
  ``follow_user`` does not have the API's shape (not a list, an item that is
  not an object, no ``userid`` or ``createtime``, a ``createtime`` that is not
  a number, ``tags`` / ``remark_mobiles`` that are not lists): that record
  alone, on its own line, so the other contacts of the file keep their data.
- events: contact changes become ``wecom_add``, ``wecom_add_half``,
  ``wecom_edit``, ``wecom_staff_deleted_customer`` (del_external_contact),
  ``wecom_customer_deleted_staff`` (del_follow_user), ``wecom_handover``
  (transfer_success; attributes staff = new owner, from_staff = old),
  ``wecom_transfer_fail``, ``wecom_msg_audit_approved``; group changes
  become one ``group_join`` / ``group_leave`` per member of
  ``MemChangeList`` (attributes chat_id, scene), ``group_create``,
  ``group_dismiss`` and ``group_update``. Group events without a customer
  (the group itself, or a staff member joining) keep ``account_id`` null
  and name the staff member in ``attributes.member_staff``.
- chat archive: one message per ``msgid``. ``direction`` is ``in`` when a
  customer wrote and ``out`` when staff did; ``account_id`` is the customer
  in the conversation: the sender, or for staff-sent private messages the
  external recipient. A staff message in a group has no single customer:
  it is kept with ``account_id`` null and its ``room_id``, so group
  analyses still see it.
- staff: the ``staff`` table.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("wecom_chat_archive.jsonl").tables["messages"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.names import clean_person_name
from scrm_lib.ingest.nested import explode_list, frame_to_json, list_field, summarize_list
from scrm_lib.ingest.wechat import event_ids

EXTERNAL_PREFIXES = ("wm", "wo")

CONTACT_EVENTS = {
    "add_external_contact": "wecom_add",
    "add_half_external_contact": "wecom_add_half",
    "edit_external_contact": "wecom_edit",
    "del_external_contact": "wecom_staff_deleted_customer",
    "del_follow_user": "wecom_customer_deleted_staff",
    "transfer_success": "wecom_handover",
    "transfer_fail": "wecom_transfer_fail",
    "msg_audit_approved": "wecom_msg_audit_approved",
}
GROUP_EVENTS = {"create": "group_create", "dismiss": "group_dismiss", "update": "group_update"}
MEMBER_EVENTS = {"add_member": "group_join", "del_member": "group_leave"}


def parse(ctx: base.Context) -> dict[str, Any]:
    """Dispatch on the preset's ``kind``."""
    kinds = {
        "contacts": _contacts,
        "events": _events,
        "messages": _messages,
        "staff": _staff,
    }
    return kinds[ctx.preset.kind or "contacts"](ctx)


def is_external(ids: pd.Series, prefixes: tuple[str, ...] = EXTERNAL_PREFIXES) -> pd.Series:
    """True where an id is a customer's external_userid.

    Example
    -------
    >>> is_external(pd.Series(["wmAbc", "zhangsan", None])).tolist()
    [True, False, False]
    """
    return ids.astype("str").str.startswith(tuple(prefixes), na=False).astype(bool)


def _prefixes(ctx: base.Context) -> tuple[str, ...]:
    return tuple(ctx.option("external_prefixes", EXTERNAL_PREFIXES))


# The shapes the WeCom API documents; a record whose value does not fit is
# rejected on its own line (see scrm_lib.ingest.nested.checked_list).
TAG = pa.struct([("group_name", pa.string()), ("tag_name", pa.string()), ("type", pa.string())])
FOLLOW_USER = pa.struct(
    [
        ("userid", pa.string()),
        ("remark", pa.string()),
        ("description", pa.string()),
        ("createtime", pa.int64()),
        ("tags", pa.list_(TAG)),
        ("remark_mobiles", pa.list_(pa.string())),
        ("add_way", pa.int64()),
        ("state", pa.string()),
    ]
)


def _list_column(ctx: base.Context, fld: str) -> pa.ListArray | None:
    """A list of ids (``MemChangeList``, ``tolist``); a record holding anything else is rejected."""
    return list_field(ctx, fld, pa.string())


def _struct_field(values: pa.Array, name: str) -> pd.Series:
    if pa.types.is_struct(values.type) and values.type.get_field_index(name) >= 0:
        child = values.field(name)
        if pa.types.is_list(child.type) or pa.types.is_struct(child.type):
            return pd.Series(child.to_pylist(), dtype=object)
        return pd.Series(child.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
    return pd.Series([None] * len(values), dtype=object)


# ---------------------------------------------------------------- contacts


def _contacts(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    errcode = pd.to_numeric(ctx.get("errcode"), errors="coerce")
    ctx.reject(errcode.notna() & (errcode != 0), "errcode", "API error response")
    ext = ctx.ids("external_userid", required=True)
    account = base.prefixed("wecom", ext)
    name = ctx.texts("name")
    out_ids = [
        base.identifiers_frame(rows, account, "external_userid", ext),
        base.identifiers_frame(rows, account, "unionid", ctx.ids("unionid")),
        base.identifiers_frame(rows, account, "nickname", name),
    ]
    accounts = [base.accounts_frame(rows, account, "wecom", ext, display_name=name)]
    events = []

    follows = list_field(ctx, "follow_user", FOLLOW_USER, required=("userid", "createtime"))
    if follows is not None and len(follows):
        parent, values = explode_list(follows)
        if len(parent):
            f_rows = pd.Series(rows.to_numpy()[parent])
            f_acc = pd.Series(account.to_numpy()[parent], dtype="str")
            f_ext = pd.Series(ext.to_numpy()[parent], dtype="str")
            staff = nz.halfwidth(_struct_field(values, "userid"))
            state = nz.halfwidth(_struct_field(values, "state"))
            created, bad = nz.parse_timestamps(_struct_field(values, "createtime"), ctx.tz)
            bad_rows = pd.Series(False, index=ctx.index)
            bad_rows[f_rows[bad.to_numpy()].to_numpy()] = True
            raw_ct = pd.Series(pd.NA, index=ctx.index, dtype="str")
            raw_ct[f_rows[bad.to_numpy()].to_numpy()] = (
                _struct_field(values, "createtime")[bad.to_numpy()].astype("str").to_numpy()
            )
            ctx.reject(bad_rows, "follow_user.createtime", "unparseable timestamp", raw_ct)
            add_way = _struct_field(values, "add_way")
            tag_names = summarize_list(values.field("tags"), join="tag_name")["joined"]
            attrs_src = pd.DataFrame(
                {
                    "staff": staff.to_numpy(dtype=object),
                    "state": state.to_numpy(dtype=object),
                    "add_way": add_way.to_numpy(dtype=object),
                    "tags": tag_names.str.split("; ").to_numpy(dtype=object),
                }
            )
            same = attrs_src.drop(columns="tags").assign(tags=tag_names.to_numpy(dtype=object))
            attrs = pd.Series(
                frame_to_json(attrs_src.replace({np.nan: None}), same.replace({np.nan: None})),
                dtype="str",
            )
            created = created.reset_index(drop=True)
            events.append(
                pd.DataFrame(
                    {
                        base.ROW: f_rows,
                        "event_id": event_ids(
                            f_acc, created, pd.Series("wecom_follow", index=f_acc.index), attrs
                        ),
                        "account_id": f_acc,
                        "ts": created,
                        "type": "wecom_follow",
                        "attributes": attrs,
                    }
                )
            )
            accounts.append(
                base.accounts_frame(
                    f_rows, f_acc, "wecom", f_ext, first_seen=created, channel_code=state
                )
            )
            # the remark is the name the rep typed, with notes beside it (city, product,
            # phone digits, 王女士); only a full name becomes a ``name`` identifier
            remark = clean_person_name(nz.nfc(_struct_field(values, "remark")))
            out_ids.append(base.identifiers_frame(f_rows, f_acc, "name", remark))
            mobiles = values.field("remark_mobiles")
            if len(mobiles):
                m_parent, m_values = explode_list(mobiles)
                if len(m_parent):
                    phones = nz.normalize_phones(pd.Series(m_values.to_pylist()), ctx.region)
                    out_ids.append(
                        base.phone_identifiers(
                            pd.Series(f_rows.to_numpy()[m_parent]),
                            pd.Series(f_acc.to_numpy()[m_parent]),
                            phones,
                        )
                    )
    return {"accounts": accounts, "identifiers": out_ids, "events": events}


# ---------------------------------------------------------------- change callbacks


def _events(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    ts = ctx.timestamps("create_time", required=True)
    event = ctx.ids("event", required=True)
    change = ctx.ids("change_type", required=True)
    staff = ctx.ids("staff")
    ext = ctx.ids("external_userid")
    chat_id = ctx.ids("chat_id")
    detail = ctx.ids("update_detail")
    contact_map = {**CONTACT_EVENTS, **ctx.option("contact_event_types", {})}

    is_contact = event == "change_external_contact"
    is_chat = event == "change_external_chat"
    ctx.reject(event.notna() & ~is_contact & ~is_chat, "event", "unknown event")
    ctype = change.map(contact_map).astype("str")
    ctx.reject(is_contact & change.notna() & ctype.isna(), "change_type", "unknown change type")
    ctx.reject(is_contact & ext.isna(), "external_userid", "missing value")

    contact_fields = pd.DataFrame(
        {
            "staff": staff.to_numpy(dtype=object),
            "state": ctx.ids("state").to_numpy(dtype=object),
            "from_staff": ctx.ids("handover_staff").to_numpy(dtype=object),
            "fail_reason": ctx.ids("fail_reason").to_numpy(dtype=object),
        }
    ).replace({np.nan: None})
    c = is_contact.to_numpy()
    contact_attrs = pd.Series(frame_to_json(contact_fields[c]), dtype="str")
    c_rows = rows[c].reset_index(drop=True)
    c_acc = base.prefixed("wecom", ext[c]).reset_index(drop=True)
    c_ts = ts[c].reset_index(drop=True)
    c_type = ctype[c].reset_index(drop=True)
    frames = [
        pd.DataFrame(
            {
                base.ROW: c_rows,
                "account_id": c_acc,
                "ts": c_ts,
                "type": c_type,
                "attributes": contact_attrs,
            }
        )
    ]
    accounts = [base.accounts_frame(c_rows, c_acc, "wecom", ext[c].reset_index(drop=True))]

    # Group changes: one event per member changed, or one for the group itself.
    g = is_chat.to_numpy()
    scene = ctx.ids("join_scene").fillna(ctx.ids("quit_scene"))
    members = _list_column(ctx, "members")
    member_type = detail.map(MEMBER_EVENTS).astype("str")
    group_type = change.map(GROUP_EVENTS).astype("str")
    ctx.reject(is_chat & group_type.isna() & change.notna(), "change_type", "unknown change type")
    if g.any():
        if members is not None:
            parent, values = explode_list(members)
            member = pd.Series(values.to_pylist(), dtype="str")
        else:
            parent, member = np.array([], dtype=np.int64), pd.Series([], dtype="str")
        keep = g[parent] & member_type.notna().to_numpy()[parent]
        parent, member = parent[keep], member[keep].reset_index(drop=True)
        has_member = np.zeros(len(ctx.index), dtype=bool)
        has_member[parent] = True
        solo = np.flatnonzero(g & ~has_member)
        pos = np.concatenate([parent, solo])
        member = pd.concat([member, pd.Series([pd.NA] * len(solo), dtype="str")], ignore_index=True)
        ext_m = is_external(member, _prefixes(ctx))
        kinds = member_type.to_numpy(dtype=object)[pos]
        kinds = np.where(pd.isna(kinds), group_type.to_numpy(dtype=object)[pos], kinds)
        attrs_src = pd.DataFrame(
            {
                "chat_id": chat_id.to_numpy(dtype=object)[pos],
                "scene": scene.to_numpy(dtype=object)[pos],
                "staff": staff.to_numpy(dtype=object)[pos],
                "member_staff": member.where(~ext_m & member.notna()).to_numpy(dtype=object),
            }
        ).replace({np.nan: None})
        g_acc = base.prefixed("wecom", member.where(ext_m))
        frames.append(
            pd.DataFrame(
                {
                    base.ROW: rows.to_numpy()[pos],
                    "account_id": g_acc,
                    "ts": ts.to_numpy()[pos],
                    "type": kinds,
                    "attributes": frame_to_json(attrs_src),
                }
            )
        )
        accounts.append(
            base.accounts_frame(
                pd.Series(rows.to_numpy()[pos]), g_acc, "wecom", member.where(ext_m)
            )
        )
    events = pd.concat(frames, ignore_index=True)
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    events["event_id"] = event_ids(
        events["account_id"], events["ts"], events["type"], events["attributes"]
    )
    return {"events": events, "accounts": accounts}


# ---------------------------------------------------------------- chat archive


def _first_in_list(arr: pa.ListArray | None, want_external: bool, prefixes, n: int) -> pd.Series:
    out = pd.Series(pd.NA, index=range(n), dtype="str")
    if arr is None or not len(arr):
        return out
    parent, values = explode_list(arr)
    vals = pd.Series(pc.cast(values, pa.string()).to_pandas(), dtype="str")
    ext = is_external(vals, prefixes).to_numpy()
    pick = ext if want_external else (~ext & vals.notna().to_numpy())
    frame = pd.DataFrame({"p": parent[pick], "v": vals[pick].to_numpy()})
    first = frame.drop_duplicates("p")
    out[first["p"].to_numpy()] = first["v"].to_numpy()
    return out


def _messages(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    n = len(ctx.index)
    prefixes = _prefixes(ctx)
    msgid = ctx.ids("msgid", required=True)
    sender = ctx.ids("from", required=True)
    ts = ctx.timestamps("msgtime", required=True)
    room = ctx.ids("roomid")
    tolist = _list_column(ctx, "tolist")
    to_ext = _first_in_list(tolist, True, prefixes, n)
    to_staff = _first_in_list(tolist, False, prefixes, n)
    to_ext.index = to_staff.index = ctx.index

    inbound = is_external(sender, prefixes)
    group = room.notna()
    customer = sender.where(inbound, to_ext.where(~group))
    staff = sender.where(~inbound, to_staff.where(~group))
    account = base.prefixed("wecom", customer)
    messages = pd.DataFrame(
        {
            base.ROW: rows,
            "message_id": msgid,
            "account_id": account,
            "ts": ts,
            "channel": np.where(group, "wecom_group", "wecom_private"),
            "room_id": room,
            "direction": np.where(inbound, "in", "out"),
            "staff_id": staff,
            "text": ctx.texts("content"),
        }
    )
    return {
        "messages": messages,
        "accounts": base.accounts_frame(rows, account, "wecom", customer),
    }


# ---------------------------------------------------------------- staff


def _staff(ctx: base.Context) -> dict[str, Any]:
    staff = pd.DataFrame(
        {
            base.ROW: ctx.rows,
            "staff_id": ctx.ids("userid", required=True),
            "name": ctx.texts("name", required=True),
            "department": ctx.texts("department"),
        }
    )
    return {"staff": staff}
