"""The staff chat page in a real browser: `streamlit run app.py` as a subprocess over the session's corpus
index, driven by Chromium through Playwright.

Checks what only a browser shows: the rendered answer and its opened source with the <mark>ed sentence,
the refusal, keyboard-only use, that a question with HTML/script stays literal text, an axe-core scan,
and five sessions asking at the same time. Screenshots go to artifacts/browser/<test>.png.

Needs /usr/bin/chromium (Debian package; never downloaded by Playwright) and node_modules/axe-core
(`npm ci`, pinned in package.json / package-lock.json; `make test` installs it).
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "browser"
START_TIMEOUT_S = 180
TIMEOUT_MS = 120_000  # Streamlit reruns and the first model load: wait for specific text, generously

PROTOCOLS = "Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?"
CANTEEN = "Was gibt es heute in der Kantine zu essen?"
LEAD = "Wer hat die Federführung für das Ökosystem Künstliche Intelligenz?"
ART_50_4 = "Was steht in Artikel 50 Absatz 4?"
TRAINING = "Müssen Beschäftigte im Umgang mit KI geschult werden?"
DEEPFAKE = "Was ist ein Deepfake?"
SCRIPT_QUESTION = f"<script>window.__pwned=1</script><b>fett</b> {DEEPFAKE}"

# question -> a source label it gets (checked with `python -m assistant ask`; deterministic over the corpus)
PARALLEL = {
    PROTOCOLS: "Art. 26 Abs. 6 KI-VO",
    ART_50_4: "Art. 50 Abs. 4 KI-VO",
    TRAINING: "Art. 4 KI-VO",  # cited as [2], after Art. 70 Abs. 3
    LEAD: "Beschluss Nr. 2",
    DEEPFAKE: "Art. 3 Nr. 60 KI-VO",
}

CHAT_INPUT = '[data-testid="stChatInputTextArea"]'
ASSISTANT_MESSAGE = '[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarAssistant"])'
USER_MESSAGE = '[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarUser"])'
EXPANDER_LABEL = '[data-testid="stExpander"] summary [data-testid="stMarkdownContainer"]'
SOURCE_LABEL = re.compile(r"^\[\d+\] ")  # "[1] Art. 26 Abs. 6 KI-VO · Fassung 2024-06-13"

# axe: no serious or critical violation is tolerated. (Streamlit paints captions in its theme text colour
# at 60 %; the darker `[theme] textColor` in .streamlit/config.toml keeps them above 4.5:1.)
TOLERATED: dict[str, str] = {}  # rule id -> CSS selector of nodes tolerated for it (none today)


# --- server and browser ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium` (apt-get install chromium); "
                    "the browser tests never download a browser", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(corpus_library, browser) -> str:
    """`streamlit run app.py` on a free port over the session's corpus index; the URL once the page
    shows the chat input (the first session loads the model and answers the warm-up question)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "streamlit.log"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(corpus_library.settings.data_dir),
           "ASSISTANT_EMBEDDING_MODEL": corpus_library.settings.embedding_model,
           "ASSISTANT_LLM_BASE_URL": "", "ASSISTANT_CHROMA_URL": "",  # extractive answers, embedded store
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no 'ok' from {url}/_stcore/health within {START_TIMEOUT_S} s:\n"
                            f"{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url)
            remaining = max(deadline - time.monotonic(), 30) * 1000
            expect(page.locator(CHAT_INPUT)).to_be_visible(timeout=remaining)
        finally:
            context.close()
        yield url
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End a server process: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def open_chat(browser: Browser, url: str) -> Page:
    """A new browser context (its own Streamlit session) showing the chat page."""
    context = browser.new_context(viewport={"width": 1280, "height": 1300}, locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    expect(page.locator(CHAT_INPUT)).to_be_visible()
    return page


@pytest.fixture
def page(browser, server) -> Page:
    page = open_chat(browser, server)
    yield page
    page.context.close()


# --- helpers ---------------------------------------------------------------------------------------
def screenshot(page: Page, name: str, show: Locator | None = None) -> Path:
    page.mouse.move(0, 0)  # no hover effect where the last click was
    if show is not None:  # its top at the top of the (internally scrolling) main area
        show.evaluate("e => e.scrollIntoView({block: 'start'})")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def settled(expander: Locator) -> None:
    """Wait until an expander's open/close animation is over (its height stops changing; at most 10 s)."""
    expander.evaluate("""e => new Promise(resolve => {
        let last = -1, same = 0, polls = 0;
        const poll = () => { const h = e.getBoundingClientRect().height;
            same = h === last ? same + 1 : 0; last = h; polls++;
            if ((same >= 3 && e.getAnimations({subtree: true}).length === 0) || polls > 200) resolve();
            else setTimeout(poll, 50); };
        poll(); })""")


def wait_until_idle(page: Page) -> None:
    """Streamlit marks the previous run's elements data-stale while a script run is going on."""
    page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0",
                           timeout=TIMEOUT_MS, polling=100)


def submit(page: Page, question: str) -> Locator:
    """Type the question into the chat input and send it; the locator of the answer's chat message."""
    before = page.locator(ASSISTANT_MESSAGE).count()
    box = page.locator(CHAT_INPUT)
    box.fill(question)
    box.press("Enter")
    return page.locator(ASSISTANT_MESSAGE).nth(before)


def finished(page: Page, message: Locator, text: str) -> Locator:
    """Wait for `text` in the answer, then for the end of the turn (its feedback buttons) and the run."""
    expect(message).to_contain_text(text, timeout=TIMEOUT_MS)
    expect(message.get_by_role("button", name="Hilfreich", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    wait_until_idle(page)
    return message


def ask(page: Page, question: str, expect_text: str) -> Locator:
    return finished(page, submit(page, question), expect_text)


def source_labels(message: Locator) -> list[str]:
    return [t.strip() for t in message.locator(EXPANDER_LABEL).all_inner_texts() if SOURCE_LABEL.match(t.strip())]


def source(message: Locator, label: str) -> Locator:
    return message.locator('[data-testid="stExpander"]').filter(
        has=message.page.locator("summary", has_text=label)).first


def answer_text(message: Locator) -> str:
    return message.locator('[data-testid="stMarkdownContainer"]').first.inner_text().strip()


def active_element(page: Page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName, testid: e.getAttribute('data-testid') || '', text: (e.innerText || '').trim()}; }""")


# --- tests -------------------------------------------------------------------------------------------
def test_answer_cites_art_26_6_and_its_opened_source_marks_six_months(page, request):
    message = ask(page, PROTOCOLS, "sechs Monate")
    labels = source_labels(message)
    assert any("Art. 26 Abs. 6 KI-VO" in label and "Fassung 2024-06-13" in label for label in labels), labels
    expect(message.locator("strong", has_text="[1]")).to_be_visible()

    expander = source(message, "Art. 26 Abs. 6 KI-VO")
    details = expander.locator('[data-testid="stExpanderDetails"]')
    expect(details).to_be_hidden()
    expander.locator("summary").click()
    expect(details).to_be_visible()
    expect(details).to_contain_text("Betreiber, die Finanzinstitute sind")  # the whole passage, not only the quote
    expect(details).to_contain_text("gültig ab 1. August 2024")
    mark = details.locator("mark").first
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("sechs Monaten")
    settled(expander)
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    screenshot(page, request.node.name, show=page.locator(USER_MESSAGE).last)


def test_off_topic_question_is_refused_without_sources(page, request):
    message = ask(page, CANTEEN, "Keine belegbare Antwort gefunden")
    refusal = message.get_by_text("Keine belegbare Antwort gefunden.")
    expect(refusal).to_be_visible()
    expect(message).to_contain_text("keine Aussage")
    assert source_labels(message) == []
    expect(message.get_by_text("Quellen", exact=True)).to_have_count(0)
    expect(message.locator("strong", has_text="[1]")).to_have_count(0)
    # passages shown for orientation ("Art. 3 Nr. 33 KI-VO · …") are labelled as unchecked, never as sources
    if message.locator(EXPANDER_LABEL).count():
        expect(message.get_by_text("Möglicherweise verwandt")).to_be_visible()
    screenshot(page, request.node.name, show=page.locator(USER_MESSAGE).last)


def test_keyboard_only_ask_and_open_first_source(page, request):
    box = page.locator(CHAT_INPUT)
    assert active_element(page)["testid"] != "stChatInputTextArea", "the chat input must not start focused"
    for presses in range(1, 61):
        page.keyboard.press("Tab")
        if active_element(page)["testid"] == "stChatInputTextArea":
            break
    else:
        pytest.fail(f"the chat input was not reached with 60 Tab presses; last focus: {active_element(page)}")
    expect(box).to_be_focused()
    print(f"chat input reached with {presses} Tab presses")

    page.keyboard.type(LEAD)
    page.keyboard.press("Enter")
    message = finished(page, page.locator(ASSISTANT_MESSAGE).first, "Federführung")
    assert any("Beschluss Nr. 2" in label for label in source_labels(message)), source_labels(message)

    first_source = message.locator('[data-testid="stExpander"] summary').first
    expect(first_source).to_contain_text("[1]")
    for key in ["Shift+Tab"] * 40 + ["Tab"] * 80:  # backwards from the chat input; forwards as a fallback
        if first_source.evaluate("e => e === document.activeElement"):
            break
        page.keyboard.press(key)
    else:
        pytest.fail(f"the first source was not reached by keyboard; last focus: {active_element(page)}")
    expect(first_source).to_be_focused()
    page.keyboard.press("Enter")

    details = message.locator('[data-testid="stExpanderDetails"]').first
    expect(details).to_be_visible()
    expect(details.locator("mark").first).to_contain_text("Federführung")
    assert message.locator("details").first.evaluate("e => e.open")
    settled(message.locator('[data-testid="stExpander"]').first)
    screenshot(page, request.node.name, show=message)


def test_html_and_script_in_question_stay_literal_text(page, request):
    message = ask(page, SCRIPT_QUESTION, "Deepfake")
    question = page.locator(USER_MESSAGE).last
    expect(question).to_contain_text("<script>window.__pwned=1</script><b>fett</b>")
    expect(page.get_by_text("<script>", exact=False).first).to_be_visible()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("b", has_text="fett").count() == 0
    assert page.evaluate("[...document.scripts].filter(s => s.textContent.includes('__pwned')).length") == 0
    assert any("Art. 3 Nr. 60 KI-VO" in label for label in source_labels(message)), source_labels(message)
    screenshot(page, request.node.name, show=question)


def test_chat_page_with_an_answer_has_no_serious_axe_violations(page, request):
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: run `npm ci` in the repository root (or `make test`)",
                    pytrace=False)
    message = ask(page, PROTOCOLS, "sechs Monate")
    opened = source(message, "Art. 26 Abs. 6 KI-VO")
    opened.locator("summary").click()  # scan the opened passage too
    expect(opened.locator("mark").first).to_be_visible()
    settled(source(message, "Art. 26 Abs. 6 KI-VO"))
    wait_until_idle(page)

    page.mouse.move(0, 0)  # scan the resting state, not a hovered button
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async (tolerated) => {
        const result = await axe.run(document, {resultTypes: ['violations'], elementRef: true});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                                      summary: n.failureSummary,
                                      tolerated: !!(tolerated[v.id] && n.element && n.element.closest(tolerated[v.id]))}))}));
    }""", TOLERATED)
    (ARTIFACTS / f"{request.node.name}.json").write_text(json.dumps(violations, indent=1, ensure_ascii=False))
    print(f"axe-core {page.evaluate('axe.version')}: {len(violations)} violation(s)")
    for v in violations:
        tolerated = sum(n["tolerated"] for n in v["nodes"])
        print(f"  {v['id']} ({v['impact']}): {len(v['nodes'])} node(s)"
              + (f", {tolerated} tolerated (Streamlit caption colour)" if tolerated else "") + f" – {v['help']}")
        for n in v["nodes"]:
            print(f"    {'[tolerated] ' if n['tolerated'] else ''}{n['html']}")
    screenshot(page, request.node.name, show=message)
    failing = [(v["id"], v["impact"], n["target"], n["summary"]) for v in violations
               if v["impact"] in ("serious", "critical") for n in v["nodes"] if not n["tolerated"]]
    assert not failing, "\n".join(map(str, failing))


def test_five_parallel_sessions_get_the_same_cited_answers_as_sequential_ones(browser, server, request):
    expected = {}
    for question, label in PARALLEL.items():  # one fresh session per question: no conversation history
        page = open_chat(browser, server)
        try:
            message = ask(page, question, label)
            expected[question] = (answer_text(message), source_labels(message))
            assert any(label in found for found in expected[question][1]), (question, expected[question][1])
        finally:
            page.context.close()

    pages = [open_chat(browser, server) for _ in PARALLEL]
    try:
        for page, question in zip(pages, PARALLEL):
            page.locator(CHAT_INPUT).fill(question)
        started = time.monotonic()
        messages = []
        for page in pages:  # all five sent within milliseconds; the server answers them in parallel runs
            page.locator(CHAT_INPUT).press("Enter")
            messages.append(page.locator(ASSISTANT_MESSAGE).first)
        sent = time.monotonic() - started
        for page, message, (question, label) in zip(pages, messages, PARALLEL.items()):
            finished(page, message, label)
            got = (answer_text(message), source_labels(message))
            assert any(label in found for found in got[1]), (question, got[1])
            assert got == expected[question], (question, got, expected[question])
            expect(page.locator(USER_MESSAGE)).to_have_count(1)  # no other session's question leaked in
            expect(page.locator(USER_MESSAGE).first).to_contain_text(question)
        print(f"5 questions sent within {sent:.2f} s, all answered after {time.monotonic() - started:.1f} s")
        for n, (page, message) in enumerate(zip(pages, messages), start=1):
            screenshot(page, f"{request.node.name}-session{n}", show=page.locator(USER_MESSAGE).first)
        screenshot(pages[0], request.node.name, show=pages[0].locator(USER_MESSAGE).first)
    finally:
        for page in pages:
            page.context.close()


def test_app_navigation_shows_the_three_pages_and_opens_the_documents_page(page, server):
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_be_visible()
    assert [t.strip() for t in nav.locator("a").all_inner_texts()] == ["Fragen", "Dokumente", "Evaluation"]
    nav.get_by_text("Dokumente", exact=True).click()
    expect(page.get_by_role("heading", name="Dokumente verwalten")).to_be_visible()
    assert page.url.endswith("/dokumente")
