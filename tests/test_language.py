"""The ticket's language: detected offline, kept with the draft, asked of generating backends,
and a tie-break of the retrieval backend."""

from __future__ import annotations

import json

import pytest
from factories import make_thread
from test_answer_cli import run

from understudy.backends.retrieval import NEAR, RetrievalBackend, in_language
from understudy.evidence import Evidence, ticket_language
from understudy.prompts import TEAM_VOICE, answering_rules, build_messages, rules_for
from understudy.records import Draft
from understudy.store import Store
from understudy.store.migrations import migrate
from understudy.text.language import detect_language, language_name

TICKETS = {
    "fr": ("La numérotation des factures recommence chaque mois",
           "Depuis la mise à jour, chaque nouvelle facture du mois repart à 1. Comment garder "
           "une numérotation continue sur toute l'année ?"),
    "de": ("Rechnungsnummern beginnen jeden Monat neu",
           "Seit dem Update fängt die Nummerierung der Rechnungen jeden Monat wieder bei 1 an. "
           "Wie bekomme ich fortlaufende Nummern?"),
    "es": ("La numeración de facturas se reinicia cada mes",
           "Desde la actualización, cada factura nueva del mes vuelve a empezar en 1. ¿Cómo "
           "mantengo una numeración continua durante todo el año?"),
    "en": ("Invoice numbering restarts every month",
           "Since the update every month's first invoice starts again at 1. How do I keep the "
           "numbering continuous over the year?"),
}


@pytest.mark.parametrize("language", sorted(TICKETS))
def test_the_language_of_a_ticket_is_detected(language):
    title, question = TICKETS[language]
    assert ticket_language(make_thread(1, title, question)) == language


def test_code_links_and_short_texts_claim_no_language():
    assert detect_language("Crash on ARM") is None  # too short to tell
    assert detect_language("```\nTraceback (most recent call last):\n  File x.py\n```") is None
    # A French sentence around an English log line and a link is still French.
    assert detect_language("L'import échoue toujours avec cette erreur, même après avoir "
                           "relancé le serveur : `ValueError: bad header` "
                           "https://docs.example.com/import") == "fr"
    assert detect_language("") is None
    assert language_name("de") == "German" and "xx" in language_name("xx")


def test_a_generating_backend_is_asked_for_the_ticket_language():
    title, question = TICKETS["fr"]
    french = make_thread(1, title, question)
    rules = answering_rules(french)
    assert rules.language == "fr" and rules.cite and rules.decline
    last = build_messages(french, [], rules=rules)[1]["content"].rsplit("\n", 1)[1]
    assert last == "Write the team's reply to the ticket above in French, citing the sources " \
                   "you use. If the sources do not answer it, still write exactly: I don't know."
    # An English ticket: the declined reply needs no reminder.
    english = build_messages(make_thread(3, *TICKETS["en"]), [], rules=answering_rules(
        make_thread(3, *TICKETS["en"])))[1]["content"]
    assert english.endswith("in English, citing the sources you use.")
    unknown = make_thread(2, "Crash", "Help!")
    assert answering_rules(unknown).language is None
    assert build_messages(unknown, [], rules=answering_rules(unknown))[1]["content"].endswith(
        "Write the team's reply to the ticket above, citing the sources you use.")
    # Training asks for the language the team's reply is written in, which it obeys.
    reply = "Activez la numérotation annuelle dans Paramètres, puis enregistrez la facture."
    assert rules_for(reply).language == "fr"
    assert rules_for("Merci !") == TEAM_VOICE  # too short to tell: no language asked


def test_the_openai_backend_sends_the_instruction(workspace, openai_server):
    workspace.store.upsert_thread(make_thread(
        1, "Invoice numbering restarts every month", "Every month starts again at 1.",
        [("maria", "Turn on yearly numbering in Settings > Invoices.", True)]))
    workspace.settings.set("low_confidence", "mark")
    title, question = TICKETS["es"]
    draft = workspace.answerer("openai").draft(make_thread(9, title, question, state="opened"),
                                               save=False)
    assert draft.language == "es"
    [request] = openai_server.calls("/v1/chat/completions")
    assert request["json"]["messages"][1]["content"].endswith(
        "in Spanish, citing the sources you use. If the sources do not answer it, still write "
        "exactly: I don't know.")


def _evidence(key: str, text: str, score: float, thread_id: int) -> Evidence:
    return Evidence(key=key, kind="reply", text=text, title=f"Thread {thread_id}",
                    url=f"https://gitlab.example.com/acme/app/-/issues/{thread_id}",
                    score=score, retrieval_score=score, thread_id=thread_id)


ENGLISH = "Turn on yearly numbering in Settings, then save the next invoice to restart it."
FRENCH = "Activez la numérotation annuelle dans les paramètres, puis enregistrez la facture."


def test_a_reply_in_the_ticket_language_wins_a_near_tie_only():
    english = _evidence("reply:1", ENGLISH, 0.71, 1)
    near = _evidence("reply:2", FRENCH, 0.71 - NEAR / 2, 2)
    far = _evidence("reply:3", FRENCH, 0.71 - 2 * NEAR, 3)
    assert in_language([english, near], "fr") is near
    assert in_language([english, far], "fr") is english  # the better answer wins
    assert in_language([english, near], "en") is english
    assert in_language([english, near], None) is english  # no language told: no tie-break
    assert in_language([near, english], "fr") is near


def test_the_retrieval_draft_is_the_french_reply_and_links_the_english_one(ws):
    title, question = TICKETS["fr"]
    ticket = make_thread(9, title, question, state="opened")
    english = _evidence("reply:1", ENGLISH, 0.64, 1)
    french = _evidence("reply:2", FRENCH, 0.63, 2)
    composed = RetrievalBackend(ws).compose(ticket, [english, french])
    assert composed.text.startswith(FRENCH)
    assert [e.key for e in composed.used] == ["reply:2", "reply:1"]  # the English one: Related
    assert "Related:\n- [Thread 1]" in composed.text


def test_the_draft_keeps_its_language_on_each_database(database):
    store = Store(database)
    thread = make_thread(1, *TICKETS["de"], state="opened")
    store.upsert_thread(thread)
    thread_id = store.find_thread("gitlab", "acme/app#1").id
    saved = store.save_draft(Draft(thread_id=thread_id, text="Hallo", backend="retrieval",
                                   language="de"))
    assert store.get_draft(saved.id).language == "de"
    saved.text = "Hallo!"
    store.save_draft(saved)
    assert [d.language for d in store.drafts(thread_id=thread_id)] == ["de"]
    store.close()


def test_an_older_database_gains_the_column_and_its_drafts_have_none(tmp_path):
    store = Store(tmp_path / "old.db")
    store.db.execute("ALTER TABLE drafts DROP COLUMN language")
    store.db.execute("DELETE FROM migrations WHERE name = 'm013_draft_language'")
    store.db.commit()
    store.upsert_thread(make_thread(1, "Old", "An old ticket.", state="opened"))
    store.db.execute("INSERT INTO drafts (thread_id, text, backend, confidence, abstained,"
                     " sources, status, created_at, updated_at) VALUES (1, 'x', 'retrieval',"
                     " 0.5, 0, '[]', 'new', '2024-01-01', '2024-01-01')")
    store.db.commit()
    assert migrate(store.db) == ["m013_draft_language"]
    assert store.get_draft(1).language is None
    store.close()


def test_answer_json_and_the_api_give_the_language(workspace, tmp_path):
    from test_serve_api import make_client, seed

    seed(workspace)
    ticket = tmp_path / "ticket.md"
    ticket.write_text("# Le courriel de réinitialisation n'arrive jamais\nJ'ai demandé deux fois "
                      "un lien pour changer mon mot de passe et rien n'est arrivé.\n",
                      encoding="utf-8")
    result = run("answer", str(ticket), "--json")
    assert result.exit_code == 0, result.output
    [draft] = json.loads(result.stdout)
    assert draft["language"] == "fr"
    shown = run("answer", str(ticket))  # the same ticket drafted again, shown to a person
    assert "ticket in French" in shown.output
    client, headers = make_client(workspace)
    with client:
        response = client.post("/v1/answers", headers=headers, json={
            "title": "Die E-Mail zum Zurücksetzen des Passworts kommt nie an",
            "body": "Ich habe zweimal einen Link angefordert, aber keine E-Mail bekommen."})
        assert response.status_code == 200, response.text
        assert response.json()["language"] == "de"
        listed = client.get(f"/v1/drafts/{draft['id']}", headers=headers).json()
        assert listed["language"] == "fr"


def test_e5_fuses_with_its_own_bm25_share(home):
    from understudy.embeddings import BM25_WEIGHTS, E5
    from understudy.index import BM25_WEIGHT
    from understudy.workspace import Workspace

    ws = Workspace(home)
    assert ws.index.weight == BM25_WEIGHT  # MiniLM
    ws.settings.set("embedding_model", E5)
    ws.close()
    ws = Workspace(home)  # a fresh one reads the setting; nothing is encoded
    assert ws.index.weight == BM25_WEIGHTS[E5] < BM25_WEIGHT
    ws.close()
