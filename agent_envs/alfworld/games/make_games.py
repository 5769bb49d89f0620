"""Write the bundled mini games (run once by a developer; the output files are committed).

    python -m agent_envs.alfworld.games.make_games

Six hand-written games, one per ALFWorld task type, in one small scene (8 receptacles, 9 objects) and in the
standard layout `json_2.1.1/train/<task_type>-<Obj>-None-<Recep>-<scene>/trial_*/{initial_state.pddl,traj_data.json}`.
The loader turns each into a playable game with the packaged domain and (new) grammar, exactly as it regenerates
old-grammar games; the goals are ALFWorld's own goal formulas (`alfworld.gen.goal_library`).
"""

from __future__ import annotations

import json
from pathlib import Path

GAMES_DIR = Path(__file__).resolve().parent / "json_2.1.1" / "train"
SCENE = 901  # not an AI2-THOR floor plan number in use by valid_seen/valid_unseen kitchens

# receptacle type -> (x coordinate used in the mangled id, openable)
RECEPTACLES: dict[str, tuple[int, bool]] = {
    "CounterTop": (1, False),
    "Cabinet": (2, True),
    "Drawer": (3, True),
    "Fridge": (4, True),
    "Microwave": (5, True),
    "SinkBasin": (6, False),
    "DiningTable": (7, False),
    "Desk": (8, False),
}
# object id suffix -> (object type, receptacle type, extra properties)
OBJECTS: dict[str, tuple[str, str, tuple[str, ...]]] = {  # fmt: skip
    "Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50": ("Apple", "CounterTop",
        ("heatable", "coolable")),
    "Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50": ("Mug", "Cabinet",
        ("heatable", "coolable", "cleanable")),
    "Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50": ("Plate", "DiningTable", ("cleanable",)),
    "Book_bar__plus_07_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50": ("Book", "DiningTable", ()),
    "CellPhone_bar__plus_08_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50": ("CellPhone", "Desk", ()),
    "CD_bar__plus_03_dot_10_bar__plus_00_dot_75_bar__plus_00_dot_50": ("CD", "Drawer", ()),
    "CD_bar__plus_08_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50": ("CD", "Desk", ()),
    "Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50": ("Potato", "Fridge",
        ("heatable", "coolable")),
}
LAMP = "DeskLamp_bar__plus_08_dot_30_bar__plus_00_dot_80_bar__plus_00_dot_50"

# task type -> (object, receptacle, toggle)
TASKS: dict[str, tuple[str, str, str]] = {
    "pick_and_place_simple": ("CellPhone", "DiningTable", ""),
    "look_at_obj_in_light": ("Book", "", "DeskLamp"),
    "pick_clean_then_place_in_recep": ("Plate", "Cabinet", ""),
    "pick_heat_then_place_in_recep": ("Apple", "DiningTable", ""),
    "pick_cool_then_place_in_recep": ("Mug", "CounterTop", ""),
    "pick_two_obj_and_place": ("CD", "CounterTop", ""),
}
DOMAIN_CONSTANTS = ("SinkBasinType", "MicrowaveType", "FridgeType", "KnifeType", "ButterKnifeType")


def receptacle_id(rtype: str) -> str:
    """The ALFRED-style mangled id of the scene's receptacle of type `rtype`."""
    x, _ = RECEPTACLES[rtype]
    if rtype == "SinkBasin":
        return f"Sink_bar__plus_0{x}_dot_00_bar__plus_00_dot_90_bar__plus_00_dot_50_bar_SinkBasin"
    return f"{rtype}_bar__plus_0{x}_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50"


def location(rtype: str) -> str:
    """The location id in front of a receptacle."""
    return f"loc_bar_{RECEPTACLES[rtype][0]}_bar_0_bar_0_bar_30"


def problem(task_type: str) -> str:
    """The PDDL problem text (`initial_state.pddl`) of the mini game for `task_type`."""
    from alfworld.gen import goal_library

    obj, recep, toggle = TASKS[task_type]
    otypes = sorted({t for t, _, _ in OBJECTS.values()} | {"DeskLamp", "Knife", "ButterKnife"})
    rtypes = sorted(RECEPTACLES)
    objects = ["agent1 - agent", "loc_bar_0_bar_0_bar_0_bar_0 - location"]
    objects += [f"{location(r)} - location" for r in rtypes] + [f"{receptacle_id(r)} - receptacle" for r in rtypes]
    objects += [f"{oid} - object" for oid in [*OBJECTS, LAMP]]
    objects += [f"{t}Type - otype" for t in otypes] + [f"{r}Type - rtype" for r in rtypes]
    init = ["(atLocation agent1 loc_bar_0_bar_0_bar_0_bar_0)"]
    for r in rtypes:
        rid = receptacle_id(r)
        init += [f"(receptacleType {rid} {r}Type)", f"(receptacleAtLocation {rid} {location(r)})"]
        if RECEPTACLES[r][1]:
            init.append(f"(openable {rid})")
        init += [f"(canContain {r}Type {t}Type)" for t in sorted({t for t, _, _ in OBJECTS.values()})]
    for oid, (otype, rtype, props) in OBJECTS.items():
        init += [f"(objectType {oid} {otype}Type)", f"(pickupable {oid})"]
        init.append(f"(inReceptacle {oid} {receptacle_id(rtype)})")
        init += [f"(objectAtLocation {oid} {location(rtype)})"] + [f"({p} {oid})" for p in props]
    init += [f"(objectType {LAMP} DeskLampType)", f"(toggleable {LAMP})"]
    init.append(f"(inReceptacle {LAMP} {receptacle_id('Desk')})")
    init.append(f"(objectAtLocation {LAMP} {location('Desk')})")
    goal = goal_library.gdict[task_type]["pddl"].format(obj=obj, recep=recep, toggle=toggle).replace("#", "-")
    trial = f"trial_T20240101_00000{list(TASKS).index(task_type)}_000000"
    lines = [f"(define (problem plan_{trial})", "(:domain alfred)", "(:objects", *objects, ")", "(:init", *init, ")"]
    return "\n".join(lines) + "\n" + goal.strip() + "\n"


def traj_data(task_type: str) -> dict:
    """The trimmed `traj_data.json` of the mini game (task type, targets, templated task sentence)."""
    from alfworld.gen import goal_library

    obj, recep, toggle = TASKS[task_type]
    sentence = goal_library.gdict[task_type]["templates"][0].format(
        obj=obj.lower(), recep=recep.lower(), toggle=toggle.lower(), mrecep=""
    )
    params: dict[str, str | bool] = {"object_target": obj, "parent_target": recep, "toggle_target": toggle,
                                     "mrecep_target": "", "object_sliced": False}
    return {
        "task_id": f"mini_{task_type}",
        "task_type": task_type,
        "pddl_params": params,
        "scene": {"floor_plan": f"FloorPlan{SCENE}", "scene_num": SCENE},
        "turk_annotations": {"anns": [{"task_desc": sentence + "."}]},
    }


def main() -> None:
    """Write all six games under `games/json_2.1.1/train/`."""
    for index, task_type in enumerate(TASKS):
        obj, recep, toggle = TASKS[task_type]
        name = f"{task_type}-{obj}-None-{recep or toggle}-{SCENE}"
        trial = GAMES_DIR / name / f"trial_T20240101_00000{index}_000000"
        trial.mkdir(parents=True, exist_ok=True)
        (trial / "initial_state.pddl").write_text(problem(task_type))
        (trial / "traj_data.json").write_text(json.dumps(traj_data(task_type), indent=1) + "\n")
        print(trial)


if __name__ == "__main__":
    main()
