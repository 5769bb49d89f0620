"""One episode, turn by turn: the prompt messages, the response (with a per-token log-prob heat map where recorded),
the action and whether it was valid, the observation, reward and info; training turns with their α and advantage;
SWE-bench episodes with the final diff and the grading report.
"""

from __future__ import annotations

from typing import Any

from harness.view.catalog import Run, as_dict, as_list, as_text
from harness.view.html import Markup, badge, join, json_block, link, notice, page, table, tag, text_block, url
from harness.view.tokens import decoder_for, heat_map, legend

#: Turn and response fields shown in their own places; any other field is listed under "other fields".
TURN_FIELDS = {"step", "messages", "response", "observation", "reward", "terminated", "truncated", "info",
               "env_time_s"}
RESPONSE_FIELDS = {"text", "prompt_token_ids", "token_ids", "logprobs", "finish_reason", "usage", "latency_s",
                   "error"}


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else as_text(value)


def turn_values(run: Run, record: dict[str, Any]) -> dict[int, tuple[float, float, float]]:
    """Turn -> (α, advantage, response entropy) of a training episode, from `advantages.jsonl`."""
    iteration = record.get("iteration")
    samples = run.advantages().get(iteration, []) if isinstance(iteration, int) else []
    episode_id = record.get("episode_id")
    return {turn: (alpha, adv, entropy) for eid, turn, alpha, adv, entropy in samples if eid == episode_id}


def diff_block(patch: str) -> Markup:
    """A unified diff with added, removed and hunk lines coloured."""
    lines = []
    for line in patch.splitlines():
        kind = ("add" if line.startswith("+") and not line.startswith("+++") else
                "del" if line.startswith("-") and not line.startswith("---") else
                "hunk" if line.startswith("@@") else "meta" if line.startswith(("diff ", "index ", "---", "+++"))
                else "")
        lines.append(tag("span", line + "\n", class_=kind or None))
    return tag("pre", *lines, class_="diff")


def swebench_section(record: dict[str, Any]) -> Markup:
    """The final diff and grading report from the last turn's info (SWE-bench episodes)."""
    turns = as_list(record.get("turns"))
    info = as_dict(as_dict(turns[-1]).get("info")) if turns else {}
    if "patch" not in info and "grade" not in info:
        return Markup("")
    parts: list[Any] = [tag("h2", "Final diff")]
    patch = info.get("patch")
    parts.append(diff_block(patch) if isinstance(patch, str) and patch.strip() else notice("The patch is empty.",
                                                                                          "info"))
    grade = as_dict(info.get("grade"))
    if grade:
        rows = [("resolved", grade.get("resolved")), ("patch applied", grade.get("patch_applied")),
                ("FAIL_TO_PASS", grade.get("f2p")), ("PASS_TO_PASS", grade.get("p2p")),
                ("grading time", f"{_number(grade.get('eval_s'))} s eval, {_number(grade.get('total_s'))} s total")]
        for key in ("fail_to_pass", "pass_to_pass"):
            failing = as_list(as_dict(grade.get(key)).get("failure"))
            if failing:
                rows.append((f"{key} failing", ", ".join(map(str, failing))))
        if grade.get("error"):
            rows.append(("error", grade.get("error")))
        parts += [tag("h2", "Grading report"),
                  tag("table", *(tag("tr", tag("th", k), tag("td", as_text(v))) for k, v in rows), class_="meta",
                      id="grade"),
                  tag("details", tag("summary", "grading report (JSON)"), json_block(grade))]
    return tag("section", *parts, class_="swebench")


def _messages(messages: list[Any], new: int) -> Markup:
    """The turn's whole prompt; the last `new` messages are the ones this turn added (a conversation is stored as
    the messages each turn adds, see `harness.types.prompts`).
    """
    blocks = []
    for message in messages:
        message = as_dict(message)
        blocks.append(tag("div", tag("div", as_text(message.get("role", "?")), class_="role"),
                          text_block(as_text(message.get("content", ""))), class_="message"))
    chars = sum(len(as_text(as_dict(m).get("content", ""))) for m in messages)
    added = f", {new} new" if new < len(messages) else ""
    return tag("details", tag("summary", f"prompt: {len(messages)} messages{added}, {chars} characters"), *blocks,
               class_="prompt")


def full_prompts(turns: list[Any]) -> list[list[Any]]:
    """Each turn's whole prompt from the stored records (`messages` added + the first `messages_kept` of the
    previous prompt), as `harness.types.prompts` does for `Turn`s.
    """
    out: list[list[Any]] = []
    for turn in turns:
        turn = as_dict(turn)
        kept = int(turn.get("messages_kept") or 0)
        out.append((out[-1][:kept] if out and kept else []) + as_list(turn.get("messages")))
    return out


def action_of(env_id: str, info: dict[str, Any], text: str) -> tuple[str | None, str]:
    """(the turn's action, where it comes from): the env's own record when it keeps one (`info["action"]`), else the
    env family's action format applied to the response (a lenient env may have read more than that).
    """
    if "action" in info:
        return as_text(info["action"]), "as the env parsed it"
    if "swebench" in env_id.lower():
        from agent_envs.swebench.actions import ParseError, parse_command

        try:
            return parse_command(text), "the response's bash block"
        except ParseError as exc:
            return None, str(exc)
    from agent_envs.parsing import clean_action, extract_tag

    tagged = extract_tag(text, "action")
    return (clean_action(tagged), "the response's <action> tag") if tagged else (None, "no <action> tag")


def _turn(number: int, turn: dict[str, Any], prompt: list[Any], env_id: str, decoder: Any,
          values: tuple[float, float, float] | None) -> Markup:
    response, info = as_dict(turn.get("response")), as_dict(turn.get("info"))
    valid = info.get("action_valid")
    head: list[Any] = [tag("b", f"Turn {number}"), f" · reward {_number(turn.get('reward', 0))}"]
    if valid is not None:
        head += [" · ", badge("valid" if valid else "invalid")]
    if turn.get("terminated"):
        head.append(" · terminated")
    if turn.get("truncated"):
        head.append(" · truncated")
    if values is not None:
        alpha, adv, entropy = values
        kind = "amplified" if alpha > 1 + 1e-6 else "damped" if alpha < 1 - 1e-6 else "neutral"
        head += [" · ", tag("span", f"α {alpha:.3f} ({kind}) · advantage {adv:+.3f} · response entropy "
                                    f"{entropy:.3f}", class_=f"alpha {kind}")]
    parts: list[Any] = [tag("div", *head, class_="turn-head"), _messages(prompt, len(as_list(turn.get("messages"))))]
    facts = [f"finish: {response.get('finish_reason')}" if response.get("finish_reason") else "",
             f"latency {_number(response.get('latency_s'))} s" if "latency_s" in response else "",
             " · ".join(f"{k} {v}" for k, v in as_dict(response.get("usage")).items())]
    parts += [tag("div", "response ", tag("span", " · ".join(f for f in facts if f), class_="note"), class_="label"),
              text_block(as_text(response.get("text", "")), "text response")]
    if response.get("error"):
        parts.append(notice(f"policy error: {as_text(response['error'])}", "error"))
    heat = heat_map(response.get("token_ids"), response.get("logprobs"), decoder)
    if heat is not None:
        parts.append(tag("details", tag("summary", "per-token log-probs ", legend()), heat, open=True))
    action, source = action_of(env_id, info, as_text(response.get("text", "")))
    parts.append(tag("div", "action: ", tag("code", action) if action is not None else "—", " ",
                     tag("span", f"({source})", class_="note"), " · ",
                     badge("valid" if valid else "invalid") if valid is not None else "validity not recorded",
                     class_="action"))
    parts += [tag("div", "observation", class_="label"), text_block(as_text(turn.get("observation", "")))]
    parts.append(tag("details", tag("summary", "info"), json_block(info)))
    extra = {k: v for k, v in turn.items() if k not in TURN_FIELDS}
    extra.update({f"response.{k}": v for k, v in response.items() if k not in RESPONSE_FIELDS})
    if extra:
        parts.append(tag("details", tag("summary", "other fields"), json_block(extra)))
    return tag("section", *parts, class_="turn", id=f"turn-{number}")


def episode_body(run: Run, record: dict[str, Any]) -> Markup:
    """Everything about one episode record (also used by the compare page)."""
    turns = as_list(record.get("turns"))
    values = turn_values(run, record)
    decoder = decoder_for(run.config)
    env_id = as_text(record.get("env_id") or run.env)
    parts: list[Any] = []
    if record.get("status") == "error":
        parts.append(notice(tag("div", "This episode ended in an error (counted as a failure):"),
                            "error"))
        parts.append(text_block(as_text(record.get("error") or "")))
    parts.append(swebench_section(record))
    if not turns:
        parts.append(notice("No turns recorded.", "info"))
    for number, (turn, prompt) in enumerate(zip(turns, full_prompts(turns), strict=True)):
        parts.append(_turn(number, as_dict(turn), prompt, env_id, decoder, values.get(number)))
    return join(parts)


def episode_page(run: Run, episode_id: str) -> tuple[str, int]:
    """The page of one episode and its HTTP status."""
    crumbs = [("runs", "/"), (run.run_id, url("/run", run=run.run_id)), (episode_id, None)]
    try:
        record = run.index.read(episode_id)
    except ValueError as exc:
        return page(episode_id, notice(str(exc), "error"), crumbs=crumbs), 422
    if record is None:
        return page("not found", notice(f"No episode {episode_id!r} in run {run.run_id}.", "error"),
                    crumbs=crumbs), 404
    entry = run.index.get(episode_id)
    version = record.get("schema_version")
    notes = []
    if isinstance(version, int) and version > 2:
        notes.append(notice(f"Episode record schema {version} is newer than this viewer's (2): unknown fields are "
                            "listed as they are."))
    meta = [("task", record.get("task_id")), ("task type", record.get("task_type")),
            ("group", record.get("group_id")), ("sample", record.get("sample_index")),
            ("outcome", badge(entry.outcome) if entry else "?"), ("score", _number(record.get("score"))),
            ("total reward", _number(record.get("total_reward"))), ("turns", len(as_list(record.get("turns")))),
            ("wall time", f"{_number(record.get('wall_time_s'))} s"), ("env", record.get("env_id"))]
    if record.get("iteration") is not None:
        meta += [("phase", record.get("phase")), ("iteration", record.get("iteration"))]
    siblings = [e for e in run.index.entries if entry and e.group_id == entry.group_id and e.episode_id != episode_id]
    links: list[Any] = []
    if siblings:
        links.append(tag("span", "other samples of this group: ",
                         Markup(", ").join(link(f"#{e.sample_index} ({e.outcome})", "/episode", run=run.run_id,
                                                id=e.episode_id) for e in siblings[:16])))
    links.append(link("this task in another run →", "/compare", a=run.run_id, task=record.get("task_id")))
    body = join([
        tag("h1", episode_id),
        join(notes),
        tag("table", *(tag("tr", tag("th", k), tag("td", v if isinstance(v, Markup) else as_text(v)))
                       for k, v in meta), class_="meta", id="episode-meta"),
        tag("p", *links, class_="tools"),
        episode_body(run, record),
    ])
    return page(episode_id, body, crumbs=crumbs), 200


def turns_table(record: dict[str, Any]) -> Markup:
    """A compact table of an episode's turns (the compare page's columns)."""
    rows = []
    for number, turn in enumerate(as_list(record.get("turns"))):
        turn = as_dict(turn)
        info = as_dict(turn.get("info"))
        valid = info.get("action_valid")
        rows.append([number, text_block(as_text(as_dict(turn.get("response")).get("text", "")), "text short"),
                     badge("valid" if valid else "invalid") if valid is not None else "",
                     text_block(as_text(turn.get("observation", "")), "text short"), _number(turn.get("reward", 0))])
    return table(["turn", "response", "valid", "observation", "reward"], rows, class_="grid compact")
