"""The conversation around the diagnoses, action by action (real Tracker, dispatcher and
domain): offers, the resume offer, roles, second questions, pending-question forms."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import ActionExecutionRejection
from rasa_sdk.executor import CollectingDispatcher

from actions import actions as bot_actions
from tests.test_actions import CONTENT, domain, domain_dict, guide_slots, make_tracker, run

__all__ = ["domain", "domain_dict"]  # fixtures used here


def user(intent: str, text: str = "") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def offered(name: str, reply_intent: str) -> list[dict[str, Any]]:
    """A conversation where the bot's last turn made offer `name`, then the reply."""
    return [user("report_no_benefits"), slot("offer", name), user(reply_intent)]


@pytest.mark.parametrize(("offer", "reply", "response"), [
    ("paid_plans", "affirm", "utter_paid_support_plans"),
    ("paid_plans", "dont_know", "utter_paid_support_plans"),
    ("paid_plans", "deny", "utter_offer_declined"),
    ("remaining_incidents", "affirm", "utter_explain_remaining_incidents"),
    ("handoff", "affirm", "utter_handoff"),
])
async def test_an_offer_is_answered_by_the_next_yes_or_no(domain_dict, offer: str, reply: str,
                                                          response: str) -> None:
    tracker = make_tracker(intent=reply, events=offered(offer, reply))
    messages, _, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert messages[0]["response"] == response
    assert slots["offer"] is None


async def test_a_yes_read_as_a_vague_opener_accepts_the_offer(domain_dict) -> None:
    text = "嗯，想了解一下"
    ranking = [{"name": "ask_menu", "confidence": 0.56}, {"name": "affirm", "confidence": 0.43}]
    events = [user("report_no_benefits"), slot("offer", "remaining_incidents"), user("ask_menu", text)]
    tracker = make_tracker({"language": "zh"}, intent="ask_menu", ranking=ranking, text=text,
                           events=events)
    messages, _, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_explain_remaining_incidents" and slots["offer"] is None


@pytest.mark.parametrize(("text", "response"), [
    ("好的，请告诉我怎么查", "utter_explain_remaining_incidents"),
    ("いえ、自分で調べてみます", "utter_offer_declined"),
])
async def test_an_unsure_reply_to_an_offer_is_read_by_its_opening_words(
        domain_dict, text: str, response: str) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.4},
               {"name": "ask_remaining_incidents", "confidence": 0.3}]
    events = [user("report_no_benefits"), slot("offer", "remaining_incidents"),
              user("nlu_fallback", text)]
    tracker = make_tracker({"language": "zh"}, intent="nlu_fallback", ranking=ranking, text=text,
                           events=events)
    messages, _, slots = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == response and slots["offer"] is None


async def test_a_corrected_answer_outside_a_guide_is_answered_again(domain_dict) -> None:
    # "いや、違うかも。契約自体が期限切れでした", classified as "that didn't work".
    events = [user("inform"), slot("contract_state", "linked"),
              slot("diagnosis", "access_id_already_associated_linked"), user("guide_failed")]
    tracker = make_tracker({"diagnosis": "access_id_already_associated_linked",
                            "contract_state": "expired"}, intent="guide_failed",
                           entities=[{"entity": "contract_state", "value": "expired"}], events=events)
    _, events, _ = await run(bot_actions.ActionGuideFailed(), tracker, domain_dict)
    assert events[-1] == {"event": "followup", "name": "access_id_form", "timestamp": None}


async def test_an_offer_lapses_after_one_turn(domain_dict) -> None:
    events = [user("report_no_benefits"), slot("offer", "paid_plans"), user("thank"), user("affirm")]
    messages, _, _ = await run(bot_actions.ActionHandleAnswer(),
                               make_tracker(intent="affirm", events=events), domain_dict)
    assert messages[0]["response"] == "utter_menu"


async def test_a_no_read_as_continue_declines_the_offer_to_resume(domain_dict) -> None:
    slots = {**guide_slots("onprem_request", 1), "guide_diagnosis": "onprem_support_request",
             "diagnosis": "paid_support_plans", "language": "zh"}
    events = offered("resume_guide", "guide_next")
    tracker = make_tracker(slots, intent="guide_next", text="先不继续了，谢谢", events=events)
    messages, _, values = await run(bot_actions.ActionGuideNext(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_offer_declined"
    assert values["offer"] is None and values["guide"] is None


async def test_resume_offer_accepted_shows_the_same_step_with_the_guides_diagnosis(domain_dict) -> None:
    slots = {**guide_slots("switch_account", 1), "guide_diagnosis": "not_authorized",
             "diagnosis": "paid_support_plans"}
    tracker = make_tracker(slots, intent="affirm", events=offered("resume_guide", "affirm"))
    messages, _, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert CONTENT.guides["switch_account"].steps[1].text["ja"] in messages[0]["text"]
    assert values["diagnosis"] == "not_authorized" and values["guide_step"] == 1


@pytest.mark.parametrize(("entities", "shown"), [
    ([], 1),  # "続けて": the same step again
    ([{"entity": "step_report", "value": "done"}], 2),  # "サインインし直しました": the next one
])
async def test_a_typed_reply_to_the_resume_offer_resumes_at_the_step_it_reports(
        domain_dict, entities: list[dict[str, Any]], shown: int) -> None:
    slots = {**guide_slots("switch_account", 1), "guide_diagnosis": "not_authorized",
             "diagnosis": "paid_support_plans"}
    tracker = make_tracker(slots, intent="guide_next", entities=entities,
                           events=offered("resume_guide", "guide_next"))
    messages, _, values = await run(bot_actions.ActionGuideNext(), tracker, domain_dict)
    assert CONTENT.guides["switch_account"].steps[shown].text["ja"] in messages[0]["text"]
    assert values["diagnosis"] == "not_authorized" and values["offer"] is None


@pytest.mark.parametrize(("text", "response"), [
    ("いえ、そこまでは大丈夫です", "utter_offer_declined"),  # a "no" read as "done"
    ("はい、その手順を教えて", None),  # the offer is accepted: the hand-off itself
])
async def test_a_report_with_no_guide_replies_to_the_offer_by_its_opening_word(
        domain_dict, text: str, response: str | None) -> None:
    tracker = make_tracker({"diagnosis": "tpd_services"}, intent="guide_next", text=text,
                           events=offered("handoff", "guide_next"))
    messages, _, values = await run(bot_actions.ActionGuideNext(), tracker, domain_dict)
    assert values["offer"] is None
    assert (values.get("diagnosis") == "human_handoff") == (response is None)
    if response:
        assert messages[0]["response"] == response


@pytest.mark.parametrize(("action", "intent", "text", "outcome"), [
    (bot_actions.ActionHandleAnswer(), "deny", "いや、やっぱりいいです", "ended"),
    (bot_actions.ActionGuideFailed(), "guide_failed", "算了，不弄了", "ended"),
    (bot_actions.ActionHandleAnswer(), "deny", "いいえ", "step failed"),
    # Unsure, and read as a request for a person by its "もういい": still calling off…
    (bot_actions.ActionClarify(), "nlu_fallback", "いや、やっぱりいいです", "ended"),
    # …unless it names a person.
    (bot_actions.ActionClarify(), "nlu_fallback", "もういいです、人に代わってください", "handoff"),
])
async def test_calling_off_a_guide_ends_it(domain_dict, action: Any, intent: str, text: str,
                                            outcome: str) -> None:
    ranking = [{"name": intent, "confidence": 0.45}]
    if intent == "nlu_fallback":
        ranking.append({"name": "request_human", "confidence": 0.41})
    tracker = make_tracker(guide_slots("switch_account", 1), intent=intent, text=text,
                           events=[user(intent, text)], ranking=ranking)
    messages, _, values = await run(action, tracker, domain_dict)
    ended = messages[0].get("response") == "utter_offer_declined" and values["guide"] is None
    assert ended is (outcome == "ended")
    assert (values.get("diagnosis") == "human_handoff") is (outcome == "handoff")
    if outcome == "step failed":
        assert values.get("guide_cause") == 0  # the step's first likely cause


async def test_resume_offer_declined_ends_the_guide(domain_dict) -> None:
    tracker = make_tracker(guide_slots("switch_account", 1), intent="deny",
                           events=offered("resume_guide", "deny"))
    messages, _, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_offer_declined"
    assert values["guide"] is None


async def test_resume_is_offered_only_when_a_guide_was_in_progress(domain_dict) -> None:
    in_guide = make_tracker(guide_slots("switch_account", 1), intent="ask_paid_plans",
                            events=[user("ask_paid_plans")])
    messages, _, values = await run(bot_actions.ActionOfferResume(), in_guide, domain_dict)
    assert messages[0]["response"] == "utter_offer_resume_guide" and values["offer"] == "resume_guide"
    no_guide = make_tracker(intent="ask_paid_plans", events=[user("ask_paid_plans")])
    assert (await run(bot_actions.ActionOfferResume(), no_guide, domain_dict))[0] == []


def loop(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


@pytest.mark.parametrize(("route", "offered"), [
    (None, "topic:ask_cloud_support"),  # Signature or CSP still unanswered: go back to it?
    ("csp", None),  # answered meanwhile
])
async def test_a_question_replaced_by_another_question_is_offered_again_after_its_answer(
        domain_dict, route: str | None, offered: str | None) -> None:
    events = [user("ask_cloud_support"), loop("cloud_route_form"), user("ask_entitlement"),
              loop("entitlement_form"), user("inform"), loop(None)]
    tracker = make_tracker({"membership": "gold", "support_kind": "on_premises", "cloud_route": route,
                            "diagnosis": "entitlement"}, intent="inform", events=events)
    messages, events, slots = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    if offered:
        assert messages[0]["response"] == "utter_offer_back_to_question"
        assert slots["offer"] == offered
    else:  # the feedback question, as after any answer
        assert not messages and "offer" not in slots
        assert any(e.get("event") == "followup" and e.get("name") == "feedback_form" for e in events)


async def test_a_plain_answer_while_a_question_waits_offers_to_go_back_to_it(domain_dict) -> None:
    events = [user("ask_cloud_support"), loop("cloud_route_form"), user("ask_tpd")]
    tracker = make_tracker({"diagnosis": "tpd_services", "requested_slot": "cloud_route"},
                           intent="ask_tpd", events=events)
    tracker.active_loop = {"name": "cloud_route_form"}
    messages, events_out, slots = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_offer_back_to_question"
    assert slots["offer"] == "topic:ask_cloud_support" and slots["requested_slot"] is None
    # the question waits no more
    assert {"event": "active_loop", "name": None, "timestamp": None} in events_out


async def test_an_answer_to_the_offer_to_go_back_goes_back_with_it(domain_dict) -> None:
    events = [slot("offer", "topic:ask_entitlement"), user("inform")]
    tracker = make_tracker({"offer": "topic:ask_entitlement", "diagnosis": "paid_support_plans"},
                           intent="inform", entities=[{"entity": "membership", "value": "gold"}],
                           events=events)
    _, events_out, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert slots["diagnosis"] == "entitlement" and slots["offer"] is None
    assert events_out[-1]["event"] == "followup" and events_out[-1]["name"] == "entitlement_form"


async def test_the_replaced_question_is_offered_only_in_the_turn_its_replacement_is_answered(
        domain_dict) -> None:
    events = [user("ask_cloud_support"), loop("cloud_route_form"), user("ask_entitlement"),
              loop("entitlement_form"), user("inform"), loop(None), user("ask_tpd")]
    tracker = make_tracker({"membership": "gold", "diagnosis": "tpd_services"}, intent="ask_tpd",
                           events=events)
    assert bot_actions.interrupted_question(tracker, domain_dict) is None


async def test_thanks_in_reply_to_the_resume_offer_ends_the_guide(domain_dict) -> None:
    slots = guide_slots("link_azure", 2)
    tracker = make_tracker(slots, intent="thank", events=offered("resume_guide", "thank"))
    _, _, values = await run(bot_actions.ActionThanked(), tracker, domain_dict)
    assert values["offer"] is None and values["guide"] is None
    # Thanks in the middle of a guide, with nothing offered, leave the guide as it is.
    plain = make_tracker(slots, intent="thank", events=[user("guide_next"), user("thank")])
    assert (await run(bot_actions.ActionThanked(), plain, domain_dict))[1] == []


@pytest.mark.parametrize(("text", "response"), [
    ("助かりました、ありがとうございます。それとは別にもう一点ご相談があります", "utter_menu"),
    ("谢谢您。另外想问一下 TPD 是什么", "utter_tpd_services"),
    ("ありがとうございました、とても助かりました", None),  # thanks only
])
async def test_a_question_after_thanks_is_answered(domain_dict, text: str, response: str | None) -> None:
    tracker = make_tracker(intent="thank", text=text, events=[user("thank", text)])
    messages, _, _ = await run(bot_actions.ActionThanked(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ([response] if response else [])


async def test_an_unsure_thanks_with_a_vague_opener_after_it_gets_the_menu(domain_dict) -> None:
    text = "以前はありがとうございました。また一つ伺いたいことがあります"
    tracker = make_tracker(intent="nlu_fallback", text=text, events=[user("nlu_fallback", text)])
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_you_are_welcome", "utter_menu"]


@pytest.mark.parametrize("role", ["none", "admin_agent"])  # Admin agent files CSP requests only
async def test_no_admin_role_during_activation_asks_for_an_admin(domain_dict, role: str) -> None:
    tracker = make_tracker(guide_slots("view_activate", 2, cause=0), intent="inform",
                           entities=[{"entity": "partner_role", "value": role}])
    messages, _, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_role_missing"
    assert values["diagnosis"] == "activation_role_required" and values["guide_cause"] == 0


async def test_the_admin_agent_role_outside_the_role_check_is_no_missing_role(domain_dict) -> None:
    # "管理エージェントのユーザーでサインインしました" at the CSP guide's sign-in step.
    tracker = make_tracker(guide_slots("csp_request", 0), intent="guide_next",
                           entities=[{"entity": "partner_role", "value": "admin_agent"}])
    messages, _, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert "utter_role_missing" not in [m.get("response") for m in messages]
    assert values.get("guide_step") == 1


async def test_an_admin_role_rules_the_role_cause_out(domain_dict) -> None:
    tracker = make_tracker(guide_slots("view_activate", 2, cause=0), intent="inform",
                           entities=[{"entity": "partner_role", "value": "global_admin"}])
    _, _, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert values["guide_cause"] == 1  # the next likely cause: processing takes days


async def test_a_second_question_in_the_same_message_is_answered(domain_dict) -> None:
    ranking = [{"name": "ask_access_contract_ids", "confidence": 0.5},
               {"name": "ask_tpd", "confidence": 0.4}]
    tracker = make_tracker(intent="ask_access_contract_ids", ranking=ranking,
                           text="アクセスIDって何ですか？あと、TPDって何ですか？",
                           events=[user("ask_access_contract_ids")])
    messages, _, _ = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_tpd_services"]
    single = make_tracker(intent="ask_access_contract_ids", ranking=ranking,
                          text="アクセスIDって何ですか", events=[user("ask_access_contract_ids")])
    assert (await run(bot_actions.ActionOfferResume(), single, domain_dict))[0] == []


async def test_each_clause_of_a_message_is_read_for_a_second_topic(domain_dict) -> None:
    # The ranking shows no second topic; the clauses do.
    ranking = [{"name": "ask_tpd", "confidence": 0.98}, {"name": "thank", "confidence": 0.01}]
    tracker = make_tracker(intent="ask_tpd", ranking=ranking,
                           text="TPDってなに？それと、アクセスIDはどこで確認できますか",
                           events=[user("ask_tpd")])
    messages, _, _ = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_access_contract_ids"]


async def test_a_second_topic_that_needs_a_guide_starts_it_when_no_guide_is_in_hand(
        domain_dict) -> None:
    text = "访问 ID 在哪里看？另外权益怎么激活？"
    tracker = make_tracker({"language": "zh", "diagnosis": "access_contract_ids"},
                           intent="ask_access_contract_ids", text=text,
                           events=[user("ask_access_contract_ids", text)])
    messages, _, slots = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_explain_activate_benefits"
    # The conversation goes on in that guide: its situation is the diagnosis.
    assert slots["guide"] == "view_activate" and slots["diagnosis"] == "activate_benefits"
    # In the middle of another guide it is explained and its steps are offered.
    busy = make_tracker({"language": "zh", **guide_slots("switch_account", 1)},
                        intent="ask_access_contract_ids", text=text,
                        events=[user("ask_access_contract_ids", text)])
    messages, _, slots = await run(bot_actions.ActionOfferResume(), busy, domain_dict)
    assert [m["response"] for m in messages] == ["utter_explain_activate_benefits",
                                                  "utter_offer_second_topic"]
    assert slots["offer"] == "steps:ask_activate_benefits" and "guide" not in slots
    # Accepted, the steps start without the explanation again.
    accepted = make_tracker({"language": "zh"}, intent="affirm",
                            events=offered("steps:ask_activate_benefits", "affirm"))
    messages, _, slots = await run(bot_actions.ActionHandleAnswer(), accepted, domain_dict)
    assert "utter_explain_activate_benefits" not in [m.get("response") for m in messages]
    assert slots["guide"] == "view_activate" and slots["offer"] is None
    assert slots["diagnosis"] == "activate_benefits"


async def test_a_second_topic_that_asks_its_own_question_is_offered(domain_dict) -> None:
    text = "TPDって何ですか？あと、うちは何件使えますか"
    ranking = [{"name": "ask_tpd", "confidence": 0.9}, {"name": "ask_entitlement", "confidence": 0.08}]
    tracker = make_tracker({"language": "ja", "diagnosis": "tpd_services"}, intent="ask_tpd",
                           ranking=ranking, text=text, events=[user("ask_tpd", text)])
    messages, _, slots = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_offer_second_question"]
    assert slots["offer"] == "topic:ask_entitlement"
    accepted = make_tracker({"language": "ja"}, intent="affirm",
                            events=offered("topic:ask_entitlement", "affirm"))
    _, events, slots = await run(bot_actions.ActionHandleAnswer(), accepted, domain_dict)
    assert slots["diagnosis"] == "entitlement"
    assert events[-1] == {"event": "followup", "name": "entitlement_form", "timestamp": None}


async def test_a_second_cloud_question_learns_the_two_routes_before_its_question_is_offered(
        domain_dict) -> None:
    text = "オンプレ製品のリクエストはどこから出すの？クラウドの場合は？"
    ranking = [{"name": "ask_onprem_request", "confidence": 0.76},
               {"name": "ask_cloud_support", "confidence": 0.16}]
    tracker = make_tracker({"language": "ja", "diagnosis": "onprem_support_request"},
                           intent="ask_onprem_request", ranking=ranking, text=text,
                           entities=[{"entity": "support_kind", "value": "both"}],
                           events=[user("ask_onprem_request", text)])
    messages, _, slots = await run(bot_actions.ActionOfferResume(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_explain_cloud_route_choice",
                                                  "utter_offer_second_question"]
    assert slots["offer"] == "topic:ask_cloud_support"


def answer_a_second_cloud_question_with_its_route_known(
        domain_dict: dict[str, Any], question_pending: bool) -> tuple[list[dict[str, Any]], list[Any]]:
    """"ゴールドのシグネチャは何件？あと…リンクする方法も" (Gold: the Signature route)."""
    text = "ゴールドのシグネチャは何件？あと Azure ポータルで特典をリンクする方法も知りたい"
    tracker = make_tracker({"language": "ja", "diagnosis": "entitlement", "membership": "gold"},
                           intent="ask_entitlement", text=text,
                           events=[user("ask_entitlement", text)])
    dispatcher = CollectingDispatcher()
    events = bot_actions.answer_second_topic(dispatcher, tracker, domain_dict,
                                             question_pending=question_pending)
    return dispatcher.messages, events


def test_a_second_cloud_question_with_its_route_known_gets_its_facts_while_a_question_waits(
        domain_dict) -> None:
    messages, events = answer_a_second_cloud_question_with_its_route_known(domain_dict, True)
    assert [m["response"] for m in messages] == ["utter_explain_cloud_signature"]
    assert events == []  # the steps wait: the entitlement question is asked next


def test_a_second_cloud_question_with_its_route_known_starts_its_guide_when_nothing_waits(
        domain_dict) -> None:
    messages, events = answer_a_second_cloud_question_with_its_route_known(domain_dict, False)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert messages[0]["response"] == "utter_explain_cloud_signature"
    assert (slots["diagnosis"], slots["guide"], slots["guide_step"]) == ("cloud_support_request",
                                                                       "link_azure", 0)


def test_a_runner_up_without_the_words_its_intent_needs_is_no_second_question(domain_dict) -> None:
    text = "調べたらゴールドでした。オンプレだと何件になりますか"
    ranking = [{"name": "ask_entitlement", "confidence": 0.55},
               {"name": "ask_remaining_incidents", "confidence": 0.25}]
    tracker = make_tracker({"language": "ja", "diagnosis": "entitlement"}, intent="ask_entitlement",
                           ranking=ranking, text=text, events=[user("ask_entitlement", text)])
    assert bot_actions.second_topic(tracker, domain_dict) is None
    worded = make_tracker({"language": "ja", "diagnosis": "entitlement"}, intent="ask_entitlement",
                          ranking=ranking, text=text + "。残りも", events=[user("ask_entitlement", text)])
    assert bot_actions.second_topic(worded, domain_dict) == "ask_remaining_incidents"


def test_a_preamble_clause_is_no_second_question(domain_dict) -> None:
    text = "顺便问一下，要是合同到期了，付费的支持计划有哪些？"
    ranking = [{"name": "ask_paid_plans", "confidence": 0.77},
               {"name": "ask_entitlement", "confidence": 0.08}]
    tracker = make_tracker({"language": "zh"}, intent="ask_paid_plans", ranking=ranking, text=text,
                           events=[user("ask_paid_plans", text)])
    assert bot_actions.second_topic(tracker, domain_dict) is None


async def test_a_second_count_question_with_everything_known_is_answered(domain_dict) -> None:
    text = "银牌云能力的 Azure 支持有几个事件？在 Azure 里面怎么链接？"
    ranking = [{"name": "ask_cloud_support", "confidence": 0.8},
               {"name": "ask_entitlement", "confidence": 0.15}]
    known = {"language": "zh", "diagnosis": "cloud_support_request", "membership": "silver",
             "support_kind": "cloud", "competency_kind": "cloud"}
    tracker = make_tracker(known, intent="ask_cloud_support", ranking=ranking, text=text,
                           events=[user("ask_cloud_support", text)])
    collector = CollectingDispatcher()
    events = bot_actions.answer_second_topic(collector, tracker, domain_dict)
    messages = collector.messages
    assert [m["response"] for m in messages] == ["utter_entitlement_cloud_unlimited"]
    assert all(event.get("name") != "diagnosis" for event in events)


async def test_a_request_for_both_support_kinds_asks_for_the_other_request_too(domain_dict) -> None:
    text = "オンプレ製品のリクエストはどこから出しますか？クラウドの場合は？"
    tracker = make_tracker({"language": "ja", "diagnosis": "onprem_support_request"},
                           intent="ask_onprem_request", text=text,
                           entities=[{"entity": "support_kind", "value": "both"}],
                           events=[user("ask_onprem_request", text)])
    assert bot_actions.second_topic(tracker, domain_dict) == "ask_cloud_support"


async def test_a_second_question_is_explained_before_the_question_an_error_raises(
        domain_dict) -> None:
    # The access-ID error asks which case applies; the clause about remaining incidents
    # (a guide topic) gets its facts first, and no guide starts under the question.
    text = "Azure 提示访问 ID 已关联到帐户，这个能忽略吗？还有剩余事件数在哪看？"
    tracker = make_tracker({"language": "zh", "diagnosis": "access_id_already_associated"},
                           intent="report_access_id_associated", text=text,
                           events=[user("report_access_id_associated", text)])
    messages, _, slots = await run(bot_actions.ActionClearStaleAnswers(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_explain_remaining_incidents"]
    assert "guide" not in slots and "offer" not in slots


@pytest.mark.parametrize(("text", "response"), [
    ("ぱーとなーせんたーで このあくしょんにたいしてしょうにんされていないといわれました",
     "utter_explain_not_authorized"),
    ("ちょっと聞きたいことがあるんですけど", "utter_menu"),
])
async def test_an_unsure_message_follows_a_confident_second_opinion(domain_dict, text: str,
                                                                    response: str) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "deny", "confidence": 0.2}]
    tracker = make_tracker(intent="nlu_fallback", ranking=ranking, text=text,
                           events=[user("nlu_fallback", text)])
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == response


@pytest.mark.parametrize(("text", "start", "response"), [
    # The fact is a hypothesis the question is asked under: the question is answered.
    ("如果这些都用完了，还有什么付费的办法？", 2, "utter_paid_support_plans"),
    # The fact is the partner's own: the access-ID question takes it.
    ("这些都用完了，还有什么付费的办法？", 2, None),
])
async def test_an_unsure_question_asked_under_a_condition_is_no_answer_of_its_facts(
        domain_dict, text: str, start: int, response: str | None) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.45},
               {"name": "ask_paid_plans", "confidence": 0.44}]
    entities = [{"entity": "contract_state", "value": "expired", "start": start + 2, "end": start + 4}]
    tracker = make_tracker(intent="nlu_fallback", ranking=ranking, text=text, entities=entities,
                           events=[user("nlu_fallback", text)])
    messages, events, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    if response:
        assert messages[0]["response"] == response
    else:
        assert any(event.get("event") == "followup" for event in events)


async def test_an_unsure_follow_up_on_the_topic_just_answered_answers_it_again(domain_dict) -> None:
    text = "毎回これを入れないとだめ？"
    ranking = [{"name": "nlu_fallback", "confidence": 0.45},
               {"name": "ask_access_contract_ids", "confidence": 0.3}]
    events = [user("ask_access_contract_ids", "アクセスIDはどこ？"),
              slot("diagnosis", "access_contract_ids"), user("nlu_fallback", text)]
    tracker = make_tracker({"diagnosis": "access_contract_ids"}, intent="nlu_fallback",
                           ranking=ranking, text=text, events=events)
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_access_contract_ids"]


async def test_an_unsure_message_without_a_confident_second_opinion_is_clarified(
        domain_dict) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.5},
               {"name": "ask_entitlement", "confidence": 0.3}]
    tracker = make_tracker(intent="nlu_fallback", ranking=ranking, text="えーと、その",
                           events=[user("nlu_fallback", "えーと、その")])
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_clarify"


async def test_a_plain_second_question_is_answered_when_the_first_opens_a_question(
        domain_dict) -> None:
    text = "权益页面显示看起来还没有任何权益。另外 TPD 服务是什么意思"
    events = [{"event": "action", "name": "action_listen"}, user("report_no_benefits", text),
              {"event": "action", "name": "membership_check_form"}]
    tracker = make_tracker({"language": "zh", "diagnosis": "no_benefits_yet"},
                           intent="report_no_benefits", text=text, events=events)
    messages, _, _ = await run(bot_actions.ValidateMembershipCheckForm(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_tpd_services"]
    # Given once: an answer later in the same turn does not repeat it.
    events.append({"event": "bot", "metadata": {"utter_action": "utter_tpd_services"}})
    again = make_tracker({"language": "zh", "diagnosis": "no_benefits_yet"},
                         intent="report_no_benefits", text=text, events=events)
    assert (await run(bot_actions.ActionOfferResume(), again, domain_dict))[0] == []


async def test_a_second_question_waits_for_a_form_with_nothing_to_ask(domain_dict) -> None:
    # Everything the count needs is in the message: the form answers at once, and the second
    # question comes after that answer (action_offer_resume), not before it.
    text = "我们是银牌，本地产品一共能开几个事件？顺便问下本地产品的支持请求在哪提交"
    events = [{"event": "action", "name": "action_listen"}, user("ask_entitlement", text),
              {"event": "action", "name": "entitlement_form"}]
    known = {"language": "zh", "diagnosis": "entitlement", "membership": "silver",
             "support_kind": "on_premises"}
    tracker = make_tracker(known, intent="ask_entitlement", text=text, events=events)
    messages, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert messages == [] and values.get("requested_slot") is None
    # With a question left, the second question is answered before it is asked.
    del known["membership"]
    tracker = make_tracker(known, intent="ask_entitlement", text=text, events=events)
    messages, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_explain_onprem_request"]
    assert values["requested_slot"] == "membership"


def form_tracker(requested: str, intent: str, candidates: dict[str, Any],
                 diagnosis: str = "entitlement") -> Any:
    events = [slot("diagnosis", diagnosis), {"event": "action", "name": "action_listen"},
              user(intent), {"event": "action", "name": "entitlement_form"},
              *(slot(name, value) for name, value in candidates.items())]
    tracker = make_tracker({"requested_slot": requested, "diagnosis": diagnosis, **candidates},
                           intent=intent, events=events)
    tracker.active_loop = {"name": "entitlement_form"}
    return tracker


@pytest.mark.parametrize(("text", "compared"), [
    ("那它跟支持事件有啥不一样？", True),
    ("那它跟支持事件是一回事吗？", True),
    ("それってサポートインシデントとどう違うの？", True),
    ("有償サポートについて教えて", False),  # a change of topic, compared with nothing
])
async def test_a_comparison_with_the_answer_just_given_asks_more_about_it(
        domain_dict, text: str, compared: bool) -> None:
    from actions.feedback import ValidateFeedbackForm

    events = [slot("diagnosis", "tpd_services"), {"event": "action", "name": "action_listen"},
              user("ask_entitlement", text), {"event": "action", "name": "feedback_form"}]
    tracker = make_tracker({"requested_slot": "feedback", "diagnosis": "entitlement"},
                           intent="ask_entitlement", text=text, events=events)
    tracker.active_loop = {"name": "feedback_form"}
    if not compared:
        with pytest.raises(ActionExecutionRejection):
            await run(ValidateFeedbackForm(), tracker, domain_dict)
        return
    messages, _, values = await run(ValidateFeedbackForm(), tracker, domain_dict)
    assert [m["response"] for m in messages] == [
        action for action in bot_actions.topic_actions()["ask_tpd"] if action.startswith("utter_")]
    assert values == {"diagnosis": "tpd_services", "requested_slot": "feedback"}


@pytest.mark.parametrize(("text", "intent", "feedback"), [
    ("よく分かりました、解決しました", "dont_know", "yes"),  # the words win over "don't know"
    ("うーん、分かりません", "dont_know", "no"),  # not sure it is solved is not solved
    ("不知道算不算解决", "ask_entitlement", "no"),  # unsure, read as another topic
])
async def test_the_feedback_answers_own_words_win_over_its_intent(
        domain_dict, text: str, intent: str, feedback: str) -> None:
    from actions.feedback import ValidateFeedbackForm

    events = [slot("diagnosis", "tpd_services"), {"event": "action", "name": "action_listen"},
              user(intent, text), {"event": "action", "name": "feedback_form"}]
    tracker = make_tracker({"requested_slot": "feedback", "diagnosis": "tpd_services"},
                           intent=intent, text=text, events=events)
    tracker.active_loop = {"name": "feedback_form"}
    _, events_out, _ = await run(ValidateFeedbackForm(), tracker, domain_dict)
    values = [e["value"] for e in events_out if e.get("event") == "slot" and e.get("name") == "feedback"]
    assert values and values[-1] == feedback


def test_a_feedback_question_an_answer_replaced_is_asked_again_about_it(domain_dict) -> None:
    from actions.feedback import ask_feedback

    tracker = make_tracker({"feedback_for": "paid_support_plans", "diagnosis": "tpd_services"},
                           intent="ask_tpd", events=[user("ask_tpd")])
    tracker.active_loop = {"name": "feedback_form"}
    assert any(e.get("event") == "followup" for e in ask_feedback(tracker, "tpd_services"))
    tracker.active_loop = {"name": "entitlement_form"}  # another question waits: not now
    assert ask_feedback(tracker, "tpd_services") == []


@pytest.mark.parametrize(("text", "person"), [
    ("メンバーシップは総務の人が見ていて、私には分かりません", False),  # who knows
    ("分からないので担当の人に代わってください", True),
    ("それは私には分からないので、詳しい方と話せますか", True),
    ("我不清楚，帮我转人工吧", True),
])
async def test_not_knowing_and_naming_who_knows_is_no_request_for_a_person(
        domain_dict, text: str, person: bool) -> None:
    tracker = form_tracker("membership", "request_human", {})
    tracker.latest_message["text"] = text
    if person:
        with pytest.raises(ActionExecutionRejection):
            await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    else:
        _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
        assert values["membership"] == "unknown"


@pytest.mark.parametrize(("text", "person"), [
    ("それは私には分からないので、詳しい方と話せますか", True),  # a person and "put me through"
    ("判断できないので、サポートの人に状況を見てもらいたいです", True),
    ("よく分からないです、話が難しくて", False),  # "talk", but no person
])
async def test_a_weak_person_reading_with_a_person_and_a_request_in_the_words_is_a_request(
        domain_dict, text: str, person: bool) -> None:
    ranking = [{"name": "dont_know", "confidence": 0.73}, {"name": "request_human", "confidence": 0.27}]
    tracker = make_tracker(intent="dont_know", text=text, ranking=ranking)
    assert bot_actions.wants_person(tracker) is person


async def test_a_person_rejects_the_pending_question(domain_dict) -> None:
    tracker = form_tracker("membership", "request_human", {"membership": "gold"})
    with pytest.raises(ActionExecutionRejection):
        await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)


async def test_an_answer_read_as_a_person_request_answers_the_question(domain_dict) -> None:
    # "しぐねちゃーのほうで"-like: the classifier heard a person in "のほうで".
    tracker = form_tracker("membership", "request_human", {"membership": "gold"})
    tracker.latest_message["text"] = "ごーるどのほうで"
    tracker.latest_message["entities"] = [{"entity": "membership", "value": "gold"}]
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["membership"] == "gold"
    # A person named with the answer is a request for a person.
    tracker.latest_message["text"] = "ゴールドです、担当の人と話したい"
    with pytest.raises(ActionExecutionRejection):
        await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)


@pytest.mark.parametrize(("text", "confidence", "rejected"), [
    ("先打断一下，TPD 这个权益是做什么的？", 0.99, True),  # 权益 is a Signature word, but a question
    ("TPD 这个权益是做什么的？", 0.6, False),  # read unsurely: the option's word answers
])
async def test_a_sure_question_of_another_topic_is_no_answer_by_an_options_word(
        domain_dict, text: str, confidence: float, rejected: bool) -> None:
    tracker = form_tracker("cloud_route", "ask_tpd", {}, diagnosis="cloud_support_request")
    tracker.active_loop = {"name": "cloud_route_form"}
    tracker.latest_message.update(text=text, intent={"name": "ask_tpd", "confidence": confidence})
    action = bot_actions.ValidateCloudRouteForm()
    if rejected:
        with pytest.raises(ActionExecutionRejection):
            await run(action, tracker, domain_dict)
    else:
        _, _, values = await run(action, tracker, domain_dict)
        assert values["cloud_route"] == "signature"


async def test_a_question_whether_the_partners_words_are_the_cause_answers_the_question(
        domain_dict) -> None:
    text = "我们之前在企业支持那边给本地产品加过这份合同，是不是因为这个？"
    tracker = form_tracker("contract_state", "ask_onprem_request", {},
                           diagnosis="access_id_already_associated")
    tracker.active_loop = {"name": "access_id_form"}
    tracker.latest_message.update(text=text, intent={"name": "ask_onprem_request", "confidence": 0.95})
    _, _, values = await run(bot_actions.ValidateAccessIdForm(), tracker, domain_dict)
    assert values["contract_state"] == "linked"


async def test_another_topic_without_an_answer_rejects_the_question(domain_dict) -> None:
    tracker = form_tracker("membership", "ask_paid_plans", {})
    with pytest.raises(ActionExecutionRejection):
        await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)


async def test_an_answer_taken_for_another_topic_keeps_the_questions_diagnosis(domain_dict) -> None:
    tracker = form_tracker("membership", "ask_remaining_incidents", {"membership": "gold"})
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["membership"] == "gold" and values["diagnosis"] == "entitlement"


async def test_not_cloud_to_the_competency_question_means_another_competency(domain_dict) -> None:
    tracker = form_tracker("competency_kind", "inform", {"support_kind": "on_premises"})
    tracker.events.insert(0, slot("support_kind", "cloud"))
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["competency_kind"] == "other" and values["support_kind"] == "cloud"


@pytest.mark.parametrize(("text", "entity", "support_kind", "competency_kind"), [
    # On-premises named: a change of the support kind asked about, answered at once.
    ("クラウドじゃなくてオンプレの話でした", {"entity": "support_kind", "value": "on_premises"},
     "on_premises", None),
    # Only cloud negated: it describes the competency.
    ("クラウド系じゃないです", {"entity": "support_kind", "value": "on_premises", "negated": True},
     "cloud", "other"),
])
async def test_on_premises_named_to_the_competency_question_changes_the_support_kind(
        domain_dict, text: str, entity: dict[str, Any], support_kind: str,
        competency_kind: str | None) -> None:
    tracker = form_tracker("competency_kind", "inform", {"support_kind": "on_premises"})
    tracker.events.insert(0, slot("support_kind", "cloud"))
    tracker.slots["membership"] = "gold"
    tracker.latest_message["text"] = text
    tracker.latest_message["entities"] = [entity]
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["support_kind"] == support_kind
    assert values.get("competency_kind") == competency_kind
    assert values.get("requested_slot") is None  # answered at once, nothing left to ask


async def test_unsure_whether_the_competency_counts_as_cloud_is_dont_know(domain_dict) -> None:
    tracker = form_tracker("competency_kind", "ask_entitlement", {"support_kind": "cloud"})
    tracker.events.insert(0, slot("support_kind", "cloud"))
    tracker.slots["membership"] = "gold"
    tracker.latest_message["text"] = "资格这块我不太确定算不算云的"
    tracker.latest_message["entities"] = [{"entity": "support_kind", "value": "cloud"}]
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["competency_kind"] == "unknown" and values["support_kind"] == "cloud"


async def test_an_on_premises_product_named_to_the_competency_question_changes_the_kind(
        domain_dict) -> None:
    # "クラウドじゃなくて" alone would describe the competency; Windows Server is a product.
    tracker = form_tracker("competency_kind", "inform", {"support_kind": "on_premises"})
    tracker.events.insert(0, slot("support_kind", "cloud"))
    tracker.slots["membership"] = "silver"
    tracker.latest_message["text"] = "あ、クラウドじゃなくて Windows Server の話でした"
    tracker.latest_message["entities"] = [{"entity": "support_kind", "value": "on_premises",
                                           "negated": True}]
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["support_kind"] == "on_premises"


async def test_not_cloud_to_the_competency_question_with_a_cue_word(domain_dict) -> None:
    # The cue word (クラウド) and the negated support kind both point to another competency.
    tracker = form_tracker("competency_kind", "inform", {"support_kind": "on_premises"})
    tracker.events.insert(0, slot("support_kind", "cloud"))
    tracker.slots["membership"] = "gold"
    tracker.latest_message["text"] = "弊社のはクラウド系ではない方のコンピテンシーです"
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["competency_kind"] == "other" and values["support_kind"] == "cloud"
    assert values.get("requested_slot") is None  # nothing left to ask


@pytest.mark.parametrize(("question", "text", "expected"), [
    ("competency_kind", "弊社のはクラウド系ではない方のコンピテンシーです", "other"),
    ("competency_kind", "我们那个资格不是云的", "other"),
    ("competency_kind", "クラウド系のやつです", "cloud"),
    ("contract_state", "契約は先月更新したばかりなので、期限切れってことはないです", "linked"),
    ("contract_state", "きげんぎれです", "expired"),
    ("contract_state", "まえにおんぷれで契約ついかしてます", "linked"),
    ("contract_state", "是我们之前在本地支持那边加过一次", "linked"),
    ("contract_state", "期限は切れてないはずです、今年度の契約なので", "linked"),
    ("competency_kind", "その他のほうじゃないです", "cloud"),
    ("has_membership", "我们不是没有会员啊，今年刚续费", "yes"),
    ("has_membership", "まだどのプログラムにも加入できていないんです", "no"),
    ("has_membership", "メンバーシップには入っていないです", "no"),
    ("has_membership", "いいえ、まだどこにも契約していません", "no"),
    ("has_membership", "はい、毎年更新していますよ", "yes"),
    ("dont_know", "這個我真的說不上來", "unknown"),
    ("contract_state", "前にどこかで追加した覚えは一度もありません", "expired"),
    ("contract_state", "その前に確認させてください。IDは一回入れれば次は不要ですか", None),  # "before that"
    ("contract_state", "この契約を追加したことがないです", "expired"),
    ("contract_state", "我们以前从没把合同加到别的帐户", "expired"),
    ("contract_state", "古い契約なので、多分もう期限は切れてるんじゃないかと", "expired"),  # a guess
    ("feedback", "うーん、正直なところ解決はしてないですね", "no"),
])
async def test_a_cue_word_of_the_question_counts_with_its_negation(
        domain_dict, question: str, text: str, expected: str) -> None:
    tracker = form_tracker(question, "inform", {})
    tracker.latest_message["text"] = text
    assert bot_actions.cued_value(tracker, question) == expected


@pytest.mark.parametrize(("text", "route"), [
    ("うちはリセラーで、お客さんのAzureのサブスクリプションを代わりに管理してる立場です", "csp"),
    ("我们是代理商，平时替客户管着一堆 Azure 订阅", "csp"),
    ("自社のコンピテンシー特典を使う形になります", "signature"),
])
async def test_the_routes_own_words_answer_signature_or_csp(domain_dict, text: str, route: str) -> None:
    tracker = form_tracker("cloud_route", "inform", {}, diagnosis="cloud_support_request")
    tracker.active_loop = {"name": "cloud_route_form"}
    tracker.latest_message["text"] = text
    _, _, values = await run(bot_actions.ValidateCloudRouteForm(), tracker, domain_dict)
    assert values["cloud_route"] == route and values["requested_slot"] is None


async def test_a_message_naming_both_routes_gets_how_to_tell_them_apart(domain_dict) -> None:
    # "Signature って何ですか、CSP とどう違う？": no route chosen; the last one named is no answer.
    tracker = form_tracker("cloud_route", "ask_cloud_support", {"cloud_route": "csp"},
                           diagnosis="cloud_support_request")
    tracker.active_loop = {"name": "cloud_route_form"}
    tracker.latest_message["entities"] = [{"entity": "cloud_route", "value": "signature"},
                                          {"entity": "cloud_route", "value": "csp"}]
    messages, _, values = await run(bot_actions.ValidateCloudRouteForm(), tracker, domain_dict)
    assert [m["response"] for m in messages] == ["utter_explain_cloud_route_choice"]
    assert values["cloud_route"] is None and values["requested_slot"] == "cloud_route"


@pytest.mark.parametrize(("intent", "text", "mapped", "expected"), [
    # The classifier's "no", but the options' own words say yes.
    ("deny", "メンバーシップがないわけではないんです", "no", "yes"),
    # The classifier's "don't know", but no word of not knowing: the words say no.
    ("dont_know", "正直に言うと、まだどのプログラムにも加入できていないんです", None, "no"),
    # A word of not knowing still wins.
    ("dont_know", "会員かどうか、正直よく分からないです", None, "unknown"),
])
async def test_the_options_own_words_win_over_the_yes_no_reading(
        domain_dict, intent: str, text: str, mapped: str | None, expected: str) -> None:
    tracker = form_tracker("has_membership", intent, {} if mapped is None else {"has_membership": mapped},
                           diagnosis="no_benefits_yet")
    tracker.active_loop = {"name": "membership_check_form"}
    tracker.latest_message["text"] = text
    _, _, values = await run(bot_actions.ValidateMembershipCheckForm(), tracker, domain_dict)
    assert values["has_membership"] == expected


@pytest.mark.parametrize(("diagnosis", "form"), [
    ("entitlement", "entitlement_form"), ("action_pack_no_cloud", "entitlement_form"),
    ("cloud_support_request", "cloud_route_form"), ("no_benefits_yet", "membership_check_form"),
    ("access_id_already_associated", "access_id_form"),
    ("access_id_already_associated_expired", "access_id_form"),
    ("not_authorized", None), (None, None),
])
def test_the_question_of_a_situation_comes_from_the_rules(domain_dict, diagnosis, form) -> None:
    assert bot_actions.form_of_diagnosis(domain_dict, diagnosis) == form


async def test_dont_know_wins_over_a_value_it_only_mentions(domain_dict) -> None:
    tracker = form_tracker("competency_kind", "dont_know", {"competency_kind": "cloud"})
    tracker.slots["support_kind"] = "cloud"  # the competency is asked only for cloud support
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["competency_kind"] == "unknown"


async def test_the_same_question_again_asks_the_pending_question_again(domain_dict) -> None:
    tracker = form_tracker("membership", "ask_entitlement", {})
    _, events, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values == {"diagnosis": "entitlement", "requested_slot": "membership"}


async def test_a_form_coming_back_after_another_action_is_not_rejected_again(domain_dict) -> None:
    tracker = form_tracker("membership", "ask_paid_plans", {})
    tracker.events.insert(-1, {"event": "action", "name": "utter_paid_support_plans"})
    _, events, _ = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert all(event.get("event") != "action_execution_rejected" for event in events)


async def test_a_cue_word_corrects_an_answered_question_when_its_form_runs_again(domain_dict) -> None:
    # "合同已经过期了" was answered, then "was this helpful?" asked. The correction names no
    # entity, so action_handle_answer runs the form again: Rasa hands it the answer already
    # given as a slot to validate, and the requested slot is still the feedback question's.
    text = "哦不是，合同还在有效期内，是我们之前在本地支持那边加过一次"
    diagnosis = "access_id_already_associated_expired"
    events = [slot("contract_state", "expired"), slot("diagnosis", diagnosis),
              slot("requested_slot", "feedback"),
              {"event": "action", "name": "action_listen"}, user("inform", text),
              {"event": "action", "name": "action_handle_answer"},
              {"event": "action", "name": "access_id_form"}, slot("contract_state", "expired")]
    tracker = make_tracker({"contract_state": "expired", "diagnosis": diagnosis, "language": "zh",
                            "requested_slot": "feedback"}, intent="inform", text=text, events=events)
    tracker.active_loop = {"name": "access_id_form"}
    _, _, values = await run(bot_actions.ValidateAccessIdForm(), tracker, domain_dict)
    assert values["contract_state"] == "linked"


async def test_a_form_started_as_an_answer_keeps_the_situation_the_answer_kept(domain_dict) -> None:
    # "クラウドの場合はどうですか？" after the gold on-premises count, read as the cloud request:
    # action_handle_answer kept `entitlement` and started the form; Rasa, starting it, applied
    # the intent's mapping once more.
    events = [slot("diagnosis", "entitlement"), {"event": "action", "name": "action_listen"},
              user("ask_cloud_support", "クラウドの場合はどうですか？"),
              slot("diagnosis", "cloud_support_request"), slot("support_kind", "cloud"),
              {"event": "action", "name": "action_handle_answer"}, slot("diagnosis", "entitlement"),
              {"event": "action", "name": "entitlement_form"},
              slot("diagnosis", "cloud_support_request"), slot("membership", "gold"),
              slot("support_kind", "cloud")]
    tracker = make_tracker({"diagnosis": "cloud_support_request", "membership": "gold",
                            "support_kind": "cloud", "language": "ja"},
                           intent="ask_cloud_support", text="クラウドの場合はどうですか？", events=events)
    tracker.active_loop = {"name": "entitlement_form"}
    _, _, values = await run(bot_actions.ValidateEntitlementForm(), tracker, domain_dict)
    assert values["diagnosis"] == "entitlement"


async def test_an_unsure_topic_opened_by_yes_accepts_the_offer(domain_dict) -> None:
    # components/reply_policy.py sends "はい、確認の手順を…" here although it was read as the
    # activation topic, whose mapping has already set that diagnosis.
    text = "はい、確認の手順を教えてください"
    events = [slot("diagnosis", "access_id_already_associated"), user("dont_know"),
              slot("offer", "remaining_incidents"), user("ask_activate_benefits", text),
              slot("diagnosis", "activate_benefits")]
    tracker = make_tracker({"diagnosis": "activate_benefits"}, intent="ask_activate_benefits",
                           text=text, events=events)
    messages, _, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_explain_remaining_incidents"
    assert values["diagnosis"] == "remaining_incidents" and values["guide"] == "remaining_incidents"


def test_a_product_problem_has_no_second_question(domain_dict) -> None:
    # "原因わかりますか？" reads alone as a topic weakly; it is part of the problem.
    text = "Azure VMを起動しようとするとAllocationFailedエラーが出ます。原因わかりますか？"
    tracker = make_tracker(intent="out_of_scope", text=text, events=[user("out_of_scope", text)])
    assert bot_actions.second_topic(tracker, domain_dict) is None


async def test_a_corrected_membership_goes_back_to_the_count_question(domain_dict) -> None:
    # "刚才说错了，是白银会员，不是Action Pack" after the Action Pack answer.
    events = [slot("membership", "action_pack"), slot("support_kind", "cloud"),
              slot("diagnosis", "action_pack_no_cloud"), user("inform")]
    tracker = make_tracker({"language": "zh", "diagnosis": "action_pack_no_cloud",
                            "membership": "silver", "support_kind": "cloud"}, intent="inform",
                           entities=[{"entity": "membership", "value": "silver"}], events=events)
    _, events, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert slots["diagnosis"] == "entitlement"
    assert events[-1] == {"event": "followup", "name": "entitlement_form", "timestamp": None}


async def test_the_options_own_words_after_dont_know_answer_the_question_late(domain_dict) -> None:
    # After "分不清是哪种情况", read as the remaining-incidents topic (components/reply_policy.py).
    text = "我去企业支持看了一眼，那个合同跑到“不可用的支持计划”下面去了，剩余事件显示 0"
    diagnosis = "access_id_already_associated"
    events = [slot("diagnosis", diagnosis), slot("contract_state", "unknown"),
              user("ask_remaining_incidents", text), slot("diagnosis", "remaining_incidents")]
    tracker = make_tracker({"language": "zh", "diagnosis": "remaining_incidents",
                            "contract_state": "unknown"}, intent="ask_remaining_incidents",
                           text=text, events=events)
    _, events, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert slots["diagnosis"] == diagnosis
    assert events[-1] == {"event": "followup", "name": "access_id_form", "timestamp": None}
    # The question's form, run again, takes the words as the answer.
    form = form_tracker("contract_state", "ask_remaining_incidents", {"contract_state": "unknown"},
                        diagnosis=diagnosis)
    form.active_loop = {"name": "access_id_form"}
    form.slots["requested_slot"] = None
    form.latest_message["text"] = text
    _, _, values = await run(bot_actions.ValidateAccessIdForm(), form, domain_dict)
    assert values["contract_state"] == "expired"


async def test_a_correction_read_as_a_step_report_answers_its_question_again(domain_dict) -> None:
    text = "あっ、ごめんなさい。ゴールドありました、先月更新してました"
    events = [slot("has_membership", "no"), slot("diagnosis", "no_benefits_yet"),
              slot("offer", "paid_plans"), user("guide_next", text)]
    tracker = make_tracker({"diagnosis": "no_benefits_yet", "has_membership": "no",
                            "membership": "gold"}, intent="guide_next", text=text,
                           entities=[{"entity": "membership", "value": "gold"}], events=events)
    _, events, _ = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert events[-1] == {"event": "followup", "name": "membership_check_form", "timestamp": None}
    # Without a word of correction it is no answer to the question.
    assert not bot_actions.corrects_an_answer(
        make_tracker({"has_membership": "no"}, intent="guide_next",
                     text="ゴールドありました、先月更新してました", events=events), domain_dict)


@pytest.mark.parametrize(("text", "second"), [
    # An answer whose other sentence only tells what the partner saw.
    ("すみません、確認したら残数はまだありました。前にオンプレで契約を登録してただけみたいです", None),
    # An answer followed by a question.
    ("うちはゴールドです。あと、TPDって何ですか？", "ask_tpd"),
])
def test_an_answer_has_a_second_topic_only_when_it_asks(domain_dict, text: str, second: str | None) -> None:
    ranking = [{"name": "inform", "confidence": 0.81},
               {"name": "ask_remaining_incidents", "confidence": 0.1}]
    tracker = make_tracker(intent="inform", text=text, ranking=ranking, events=[user("inform", text)])
    assert bot_actions.second_topic(tracker, domain_dict) == second


@pytest.mark.parametrize("language", ["ja", "zh"])
async def test_a_typed_report_of_a_later_step_continues_after_it(language: str,
                                                               domain_dict) -> None:
    guide = CONTENT.guides["link_azure"]
    text = {"ja": "サポートプラン選んで、サポート特典のリンクも押しました",
            "zh": "帮助+支持打开了，支持计划也选好了"}[language]
    tracker = make_tracker({**guide_slots("link_azure", 0), "language": language},
                           intent="guide_next", text=text)
    messages, _, slots = await run(bot_actions.ActionGuideNext(), tracker, domain_dict)
    assert slots["guide_step"] == 2
    assert guide.steps[2].text[language] in messages[0]["text"]


async def test_the_questions_own_words_after_dont_know_answer_it_whatever_the_intent(
        domain_dict) -> None:
    text = "ビジネス向けサポートで見たら、使用できないサポートプランの中にしか出てきませんでした"
    slots = {"diagnosis": "access_id_already_associated", "contract_state": "unknown",
             "offer": "remaining_incidents"}
    events = [*(slot(name, value) for name, value in slots.items()), user("nlu_fallback", text)]
    tracker = make_tracker(slots, intent="nlu_fallback", text=text, events=events)
    _, events, _ = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "access_id_form"


async def test_a_late_answer_in_the_steps_to_find_it_out_answers_the_question(domain_dict) -> None:
    # "分かりません" to the contract question, then its offer of the remaining-incidents
    # steps accepted; at step 1 the partner reports what the question asked.
    text = "見てみたら、契約の期限がもう切れていました"
    tracker = make_tracker({**guide_slots("remaining_incidents", 0), "contract_state": "unknown",
                            "diagnosis": "remaining_incidents", "language": "ja"},
                           intent="inform", text=text,
                           entities=[{"entity": "step_report", "value": "done"}],
                           events=[slot("contract_state", "unknown"), user("inform", text)])
    _, events, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert events[-1] == {"event": "followup", "name": "access_id_form", "timestamp": None}
    assert slots["diagnosis"] == "access_id_already_associated"
    assert slots["guide"] is None and slots["offer"] is None
    # The same report without the question's words is a report on the step.
    tracker = make_tracker({**guide_slots("remaining_incidents", 0), "contract_state": "unknown",
                            "language": "ja"}, intent="inform", text="開けました",
                           entities=[{"entity": "step_report", "value": "done"}],
                           events=[slot("contract_state", "unknown"), user("inform", "開けました")])
    _, _, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert slots["guide_step"] == 1
    # An entity of the question, which has already filled its slot, answers it too.
    tracker = make_tracker({**guide_slots("remaining_incidents", 0), "contract_state": "expired",
                            "language": "ja"}, intent="inform", text="もう期限切れでした",
                           entities=[{"entity": "contract_state", "value": "expired"}],
                           events=[slot("contract_state", "unknown"), user("inform", "もう期限切れでした"),
                                   slot("contract_state", "expired")])
    _, events, _ = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert events[-1] == {"event": "followup", "name": "access_id_form", "timestamp": None}


async def test_an_unsure_follow_up_the_clause_classifier_reads_as_the_last_topic_answers_it(
        domain_dict) -> None:
    # Right after the IDs answer; Rasa's classifier does not rank the IDs at all.
    text = "毎回入れないといけないんですか"
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "guide_failed", "confidence": 0.26},
               {"name": "report_activation_failed", "confidence": 0.23}]
    events = [slot("diagnosis", "access_contract_ids"), user("nlu_fallback", text)]
    tracker = make_tracker({"diagnosis": "access_contract_ids", "language": "ja"},
                           intent="nlu_fallback", ranking=ranking, text=text, events=events)
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_access_contract_ids"


async def test_an_unsure_next_to_the_offer_to_resume_resumes_the_same_step(domain_dict) -> None:
    # "続きをお願いします" after a digression, read unsurely as "next" (action_clarify).
    slots = {**guide_slots("csp_request", 1), "guide_diagnosis": "cloud_support_request",
             "diagnosis": "paid_support_plans", "offer": "resume_guide", "language": "ja"}
    text = "続きをお願いします"
    events = [*(slot(name, value) for name, value in slots.items()), user("nlu_fallback", text)]
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "guide_next", "confidence": 0.45}]
    tracker = make_tracker(slots, intent="nlu_fallback", ranking=ranking, text=text, events=events)
    _, _, values = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert values["guide_step"] == 1 and values["offer"] is None
    assert values["diagnosis"] == "cloud_support_request"
