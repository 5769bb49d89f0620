"""`agent_envs/WebShopBrowser-v0`: WebShop through a real headless Chromium (Selenium 4) on the real web site.

The env serves the site itself (uvicorn on 127.0.0.1, a free port) unless `base_url` points at a running one, starts
Chromium with the offline flags and the system chromedriver (`/usr/bin/chromedriver`, given explicitly), and after
every navigation waits for the old page to go stale and the new one to finish loading. Observations are read from the
live page (`page_source` -> visible text nodes, the original's rule), so for the same action sequence they equal the
text env's; the reward is read from the done page's `#reward`. A shadow text session follows the same actions to give
the oracle's `expert_action`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any
from urllib.parse import quote

from agent_envs.core import ACTION_VALID, Task, Transition
from agent_envs.errors import DependencyNotInstalled, EnvUnavailable
from agent_envs.webshop.engine import Session, parse_action
from agent_envs.webshop.env import WebShopEnv
from agent_envs.webshop.pages import text_observation, text_rich_observation
from agent_envs.webshop.site_html import nodes_from_html

CHROMIUM = os.environ.get("AEMGYM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AEMGYM_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")


def browser_available() -> str | None:
    """None when Chromium, chromedriver and selenium are usable here, else the reason why not."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} not found (apt-get install chromium chromium-driver, or scripts/install/30-webshop.sh)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'aem-gym[webshop]')"
    return None


class WebShopBrowserEnv(WebShopEnv):
    """WebShop in a real browser. Same arguments as `WebShopEnv`, plus `base_url` (default: serve in-process) and
    `page_load_timeout` (seconds).
    """

    def __init__(self, *, base_url: str | None = None, page_load_timeout: float = 20.0, **kw: Any):
        super().__init__(**kw)
        reason = browser_available()
        if reason:
            raise (DependencyNotInstalled if "selenium" in reason else EnvUnavailable)(reason)
        self.base_url, self.timeout = base_url, page_load_timeout
        self._server: Any = None
        self._driver: Any = None
        self._profile: str | None = None
        self._sid = ""
        self._shadow: Session | None = None
        self._visited: set[str] = set()
        self._reward: float | None = None

    # ----- browser plumbing ------------------------------------------------------------------------------------------
    def _ensure_browser(self) -> None:
        if self.base_url is None:
            from agent_envs.webshop.webapp import ServerThread, create_app

            self._server = ServerThread(create_app(self.world)).start()
            self.base_url = self._server.url
        if self._driver is None:
            os.environ.setdefault("SE_OFFLINE", "true")
            os.environ.setdefault("SE_AVOID_STATS", "true")
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service

            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            self._profile = tempfile.mkdtemp(prefix="aemgym-chromium-")
            for flag in (*CHROME_FLAGS, f"--user-data-dir={self._profile}"):
                options.add_argument(flag)
            try:
                self._driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
            except Exception as e:  # selenium raises many types; all mean "no browser"
                raise EnvUnavailable(f"could not start Chromium: {e}") from e
            self._driver.set_page_load_timeout(self.timeout)

    def _navigate(self, act: Any) -> None:
        """Run `act()` (a click/submit/get) and wait until the new page has replaced the old one and loaded."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        old = self._driver.find_element(By.TAG_NAME, "html")

        def replaced(_driver: Any) -> bool:
            try:
                old.is_enabled()
                return False
            except StaleElementReferenceException:
                return True
            except WebDriverException as exc:  # Chromium mid-navigation: "Node ... does not belong to the document"
                if "does not belong to the document" in str(exc):
                    return True
                raise

        act()
        wait = WebDriverWait(self._driver, self.timeout)
        wait.until(replaced)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def _get(self, path: str) -> None:
        self._driver.get(f"{self.base_url}{path}")
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self._driver, self.timeout).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def _clickables(self) -> dict[str, Any]:
        """Lower-cased button/link texts and radio values -> element to click (radios: their visible label)."""
        from selenium.webdriver.common.by import By

        d, out = self._driver, {}
        for el in d.find_elements(By.CSS_SELECTOR, ".btn, .product-link"):
            out[el.text.strip().lower()] = el
        for el in d.find_elements(By.CSS_SELECTOR, "input[type=radio]"):
            labels = d.find_elements(By.CSS_SELECTOR, f"label[for='{el.get_attribute('id')}']")
            out[el.get_attribute("value")] = labels[0] if labels else el
        return out

    def _observe(self) -> str:
        source = self._driver.page_source
        if self.observation_mode == "html":
            return source
        if self.observation_mode == "url":
            return self._driver.current_url
        nodes = nodes_from_html(source)
        if self.observation_mode == "text_rich":
            return text_rich_observation(nodes, self._driver.current_url, self._visited)
        return text_observation(nodes)

    def _read_reward(self) -> float | None:
        from selenium.webdriver.common.by import By

        found = self._driver.find_elements(By.CSS_SELECTOR, "#reward pre")
        return float(found[0].text) if found else None

    # ----- TextEnv hooks ---------------------------------------------------------------------------------------------
    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._ensure_browser()
        index = task.data["index"]
        self._sid = f"fixed_{index}_{os.getpid()}_{id(self) & 0xFFFF}_{self.np_random.integers(1 << 30)}"
        app_goal = self.world.goals[index]
        if self._server is not None:  # our own server: pin the goal for this unique session id
            self._server.server.config.app.state.shop.pin(self._sid, app_goal)
        self._shadow = Session(self.world, self._sid, app_goal)
        self._visited, self._reward = set(), None
        self._get(f"/{quote(self._sid, safe='')}")
        obs = self._observe()
        self._prev_obs, self._prev_actions = [obs], []
        return obs, {"instruction": app_goal["instruction_text"], "url": self._driver.current_url}

    def _act(self, action: str) -> Transition:
        from selenium.webdriver.common.by import By

        name, arg = parse_action(action)
        arg = arg.lower() if arg is not None else None
        table = self._clickables()
        valid = True
        if name == "search" and arg:
            if not self._driver.find_elements(By.ID, "search_input"):  # the original accepts search from any page
                self._get(f"/{quote(self._sid, safe='')}")
            box = self._driver.find_element(By.ID, "search_input")
            box.send_keys(arg)
            self._navigate(box.submit)
        elif name == "click" and arg is not None and arg in table and arg != "search":
            element = table[arg]
            if arg == "buy now" or element.get_attribute("class") == "product-link":
                if element.get_attribute("class") == "product-link":
                    self._visited.add(arg.upper())
            self._navigate(element.click)
        else:
            valid = False
        if valid and self._shadow is not None:
            self._shadow.step(action)
        obs = self._observe()
        info: dict[str, Any] = {ACTION_VALID: valid, "url": self._driver.current_url, "anchor_obs": obs}
        self._prev_actions.append(action)  # the original appends the action before building the history
        state = self._with_history(obs)
        self._prev_obs.append(obs)
        if not valid:
            reason = "expected search[keywords] or click[element]" if name not in ("search", "click") or arg is None \
                else f"{arg!r} is not clickable on this page"
            return Transition(f"Invalid action: {reason}.\n{state}" if self.feedback_on_invalid else state, info=info)
        reward = self._read_reward()
        if reward is not None:
            if self._shadow is not None and self._shadow.breakdown is not None:
                info["reward_info"] = self._shadow.breakdown.info()
            info["won"] = reward == 1.0
            return Transition(state, reward=reward, terminated=True, success=reward == 1.0, score=reward, info=info)
        return Transition(state, info=info)

    def _unparseable(self, reason: str) -> Transition:
        obs = self._observe() if self._driver is not None else ""
        hint = "Reply with search[...] or click[...] inside <action> tags."
        return Transition(f"Invalid action: {reason}. {hint}\n{obs}",
                          info={ACTION_VALID: False, "anchor_obs": obs})

    def _admissible_actions(self) -> list[str] | None:
        if self._driver is None:
            return None
        from selenium.webdriver.common.by import By

        actions = ["search[<your query>]"] if self._driver.find_elements(By.ID, "search_input") else []
        return actions + [f"click[{c}]" for c in self._clickables() if c != "search"]

    def expert_action(self) -> str:
        """The oracle's next action, from the shadow session that follows the same actions."""
        from agent_envs.webshop.oracle import next_action

        assert self._shadow is not None
        return next_action(self._shadow.page, self._shadow.goal)

    def _close(self) -> None:
        if self._driver is not None:
            try:
                self._driver.quit()
            finally:
                self._driver = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
        if self._server is not None:
            self._server.stop()
            self._server, self.base_url = None, None
