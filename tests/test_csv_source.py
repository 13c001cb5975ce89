"""The csv source: Twitter support conversations, the generic format, broken rows, datasets."""

from __future__ import annotations

import json

from factories import run_cli
from typer.testing import CliRunner

from understudy.cli import app
from understudy.datasets.conversations import (
    conversation_completion_examples,
    conversation_examples,
    thread_header,
)
from understudy.sources import sync

HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
TWCS = HEADER + (
    # A conversation that branches: AcmeHelp answers, the customer follows up twice.
    '1,115712,True,Tue Oct 31 21:45:10 +0000 2017,@AcmeHelp my router keeps dropping wifi,2,\n'
    '2,AcmeHelp,False,Tue Oct 31 21:50:00 +0000 2017,"@115712 Sorry! Have you tried '
    'restarting it, Jo? ^AB",3,1\n'
    '3,115712,True,Tue Oct 31 22:01:00 +0000 2017,@AcmeHelp yes twice,"4,6",2\n'
    '4,AcmeHelp,False,Tue Oct 31 22:05:00 +0000 2017,@115712 Please DM us your account '
    'number.,,3\n'
    'x5,115713,True,Tue Oct 31 22:06:00 +0000 2017,bad id row,,\n'
    '6,115712,True,Tue Oct 31 22:04:00 +0000 2017,@AcmeHelp also the lights blink red,,3\n'
    '7,115714,maybe,Tue Oct 31 22:07:00 +0000 2017,bad inbound,,\n'
    '8,115715,True,yesterday,bad time,,\n'
    '9,115716,True,Wed Nov 01 08:00:00 +0000 2017\n'
    '10,115716,True,Wed Nov 01 09:00:00 +0000 2017,@AcmeHelp nobody answered me,,\n'
    '11,AcmeHelp,False,Wed Nov 01 10:00:00 +0000 2017,@115799 a reply to a tweet not here,,99\n'
)




def test_twcs_conversations_follow_reply_links_and_broken_rows_are_reported(tmp_path, ws):
    path = tmp_path / "twcs.csv"
    path.write_text(TWCS)
    report = sync(ws, "csv", path=str(path))

    assert (report.new, report.skipped) == (2, 4)
    assert report.problems[:4] == [
        "line 6: tweet_id 'x5' is not a number; the row was skipped",
        "line 8: inbound 'maybe' is neither True nor False; the row was skipped",
        "line 9: created_at 'yesterday' is not a time; the row was skipped",
        "line 10: 4 fields where the header has 7; the row was skipped",
    ]
    assert "1 company replies answer tweets not in the file" in report.problems[4]
    thread = ws.store.find_thread("twcs", "1")
    assert thread.project == "AcmeHelp" and thread.state == "closed"
    assert [m.external_id for m in thread.messages] == ["1", "2", "3", "6", "4"]  # by time
    assert [m.is_team for m in thread.messages] == [False, True, False, False, True]
    assert thread.messages[0].kind == "question" and thread.messages[0].author == "115712"
    assert thread.created_at == "2017-10-31T21:45:10Z"
    assert thread.meta["reply_to"] == {"2": "1", "3": "2", "4": "3", "6": "3"}
    lonely = ws.store.find_thread("twcs", "10")
    assert lonely.state == "opened" and len(lonely.messages) == 1

    again = sync(ws, "csv", path=str(path))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)


def test_generic_format_with_a_column_mapping(tmp_path, ws):
    path = tmp_path / "chats.csv"
    path.write_text(
        "ticket,who,speaker,sent,message\n"
        "A-1,sam,customer,2024-03-01T10:00:00Z,How do I export my data?\n"
        "A-1,lee,agent,2024-03-01T10:05:00Z,\"Use Settings > Export,\nthen pick CSV.\"\n"
        "A-1,sam,customer,2024-03-01T10:07:00Z,Thanks!\n"
        "A-2,kim,customer,not a time,broken\n"
        ",kim,customer,2024-03-01T11:00:00Z,no conversation\n"
        "A-3,kim,pirate,2024-03-01T11:00:00Z,arr\n"
        "A-4,kim,customer,2024-03-02T09:00:00+02:00,Is there an API?\n"
    )
    result = CliRunner().invoke(app, ["sync", "csv", str(path), "--json", "--columns",
                                      "conversation_id=ticket,author=who,role=speaker",
                                      "--columns", "created_at=sent,text=message"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["new"], report["skipped"]) == (2, 3)
    assert report["problems"] == [
        "line 6: time 'not a time' is not an ISO date or time; the row was skipped",
        "line 7: the conversation id is empty; the row was skipped",
        "line 8: role 'pirate' is not customer, agent or system; the row was skipped",
    ]
    thread = ws.store.find_thread("csv", "chats#A-1")
    assert [(m.author, m.is_team) for m in thread.messages] == [
        ("sam", False), ("lee", True), ("sam", False)]
    assert thread.messages[1].body == "Use Settings > Export,\nthen pick CSV."
    assert ws.store.find_thread("csv", "chats#A-4").created_at == "2024-03-02T07:00:00Z"


def test_many_broken_rows_are_all_listed_by_line(tmp_path, ws):
    rows = "".join(f"{n},1,True,nope,t,,\n" for n in range(1, 71))
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + rows)
    report = sync(ws, "csv", path=str(path))
    assert report.skipped == 70 and report.new == 0
    assert len(report.problems) == 51
    assert report.problems[-1] == "20 more malformed rows skipped, at lines 52-71"


def test_unreadable_csv_gives_one_line(tmp_path, monkeypatch):
    missing = tmp_path / "none.csv"
    code, _, err = run_cli(monkeypatch, "sync", "csv", str(missing))
    assert code == 1 and err.strip() == (
        f"Error: No CSV file at '{missing}': give the path of a .csv file")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("conversation_id,text\n1,caf\xe9 cr\xe8me\n".encode("latin-1"))
    code, _, err = run_cli(monkeypatch, "sync", "csv", str(latin))
    assert code == 1 and err.strip() == f"Error: {latin} is not UTF-8 text: save the CSV as UTF-8"
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("a,b\n1,2\n")
    code, _, err = run_cli(monkeypatch, "sync", "csv", str(nameless))
    assert code == 1 and "No conversation_id column in the CSV header (a, b)" in err
    assert "--columns conversation_id=COLUMN" in err
    code, _, err = run_cli(monkeypatch, "sync", "csv", str(nameless), "--columns", "text")
    assert code == 2 and "--columns takes FIELD=COLUMN pairs" in err


def test_conversation_examples_chat_and_completion(tmp_path, ws):
    path = tmp_path / "twcs.csv"
    path.write_text(TWCS)
    sync(ws, "csv", path=str(path))
    thread = ws.store.find_thread("twcs", "1")

    chats = conversation_examples(thread)
    assert len(chats) == 2  # one per AcmeHelp turn
    first, second = chats
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][-1]["content"].startswith("@115712 Sorry!")
    # The second answer replies to tweet 3, so tweet 6 (a sibling branch) is not history.
    contents = [m["content"] for m in second["messages"][1:]]
    assert contents == ["@AcmeHelp my router keeps dropping wifi",
                        "@115712 Sorry! Have you tried restarting it, Jo? ^AB",
                        "@AcmeHelp yes twice", "@115712 Please DM us your account number."]
    assert second["thread"] == "twcs:1" and second["message"] == "4"

    plain = conversation_completion_examples(thread)
    assert plain[0]["prompt"] == "Customer: @AcmeHelp my router keeps dropping wifi\nAgent:"
    assert plain[0]["completion"] == " @115712 Sorry! Have you tried restarting it, Jo? ^AB\n"
    full = conversation_completion_examples(thread, summary="Wifi drops",
                                            specifics="Router model X1")
    assert full[1]["prompt"] == (
        "Summary: Wifi drops\n\nSpecific information: Router model X1\n\n###\n\n"
        "Customer: @AcmeHelp my router keeps dropping wifi\n"
        "Agent: @115712 Sorry! Have you tried restarting it, Jo? ^AB\n"
        "Customer: @AcmeHelp yes twice\nAgent:")
    assert full[1]["completion"] == " @115712 Please DM us your account number.\n"


def test_summary_and_specifics_columns_reach_the_conversation_layout(tmp_path, ws,
                                                                    monkeypatch):
    """A CSV's summary and specifics columns head the conversation's training prompts; a
    conversation without them gets no header, and a file without the columns loses nothing."""
    path = tmp_path / "desk.csv"
    path.write_text(
        "conversation_id,role,created_at,text,summary,plan\n"
        "C-1,customer,2024-03-01T10:00:00Z,My invoice shows the old VAT number.,"
        "Wrong VAT number on invoices,Business plan\n"
        "C-1,agent,2024-03-01T10:05:00Z,Update it under Billing > Tax details.,,\n"
        "C-2,customer,2024-03-01T11:00:00Z,How do I add a seat?,,\n"
        "C-2,agent,2024-03-01T11:02:00Z,Team > Invite adds a seat.,,\n"
    )
    report = sync(ws, "csv", path=str(path), format="generic",
                  columns={"specifics": "plan"}, project="desk")
    assert (report.new, report.skipped) == (2, 0)
    headed = ws.store.find_thread("csv", "desk#C-1")
    assert headed.meta["summary"] == "Wrong VAT number on invoices"
    assert headed.meta["specifics"] == "Business plan"
    (example,) = conversation_completion_examples(headed, *thread_header(headed))
    assert example["prompt"] == (
        "Summary: Wrong VAT number on invoices\n\nSpecific information: Business plan"
        "\n\n###\n\nCustomer: My invoice shows the old VAT number.\nAgent:")
    plain = ws.store.find_thread("csv", "desk#C-2")
    assert "summary" not in plain.meta and "specifics" not in plain.meta

    code, _, err = run_cli(monkeypatch, "sync", "csv", str(path), "--format", "generic",
                           "--columns", "mood=plan")
    assert code != 0 and "Unknown field mood in --columns" in err and "summary" in err
    assert "Traceback" not in err
