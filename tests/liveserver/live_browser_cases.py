"""``websocketbridge.js`` in headless Chromium against a ``ChannelLiveServerTestCase``.

Run by ``test_liveserver.py`` with the Django test runner (see ``live_cases.py``).
"""

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait

from channels_classic.test import ChannelLiveServerTestCase

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT = 10


class WebSocketBridgeTests(ChannelLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-dev-shm-usage"):
            options.add_argument(argument)
        cls.browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        cls.addClassCleanup(cls.browser.quit)

    def events(self):
        return self.browser.execute_script("return window.events")

    def wait_for_event(self, expected):
        """Wait until the page recorded ``expected``; return the events so far."""
        WebDriverWait(self.browser, TIMEOUT, poll_frequency=0.02).until(
            lambda browser: expected in self.events(),
            f"the page never recorded {expected!r}",
        )
        return self.events()

    def run_js(self, script):
        self.browser.execute_script(script)

    def test_bridge(self):
        self.browser.get(self.live_server_url + "/bridge/")
        self.wait_for_event(["echo-open"])
        self.wait_for_event(["streams-open"])

        # JSON out, JSON back to the listen() callback, with stream null.
        self.run_js("echo.send({n: 1, text: 'héllo'})")
        self.wait_for_event(["echo", {"echo": {"n": 1, "text": "héllo"}}, None])

        # Streams: each payload to its demultiplex() callback, none to listen().
        self.run_js("streams.stream('alpha').send({a: 1}); streams.stream('beta').send({b: 2})")
        self.wait_for_event(["alpha", {"echo": {"a": 1}, "from": "alpha"}, "alpha"])
        self.wait_for_event(["beta", {"echo": {"b": 2}, "from": "beta"}, "beta"])

        # A frame that is not JSON goes to onInvalidMessage; the next one is still delivered.
        self.run_js("echo.send({please: 'garbage'})")
        events = self.wait_for_event(["echo", {"after": "garbage"}, None])
        self.assertIn(["invalid", "this is not JSON"], events)
        self.assertLess(events.index(["invalid", "this is not JSON"]),
                        events.index(["echo", {"after": "garbage"}, None]))

        # The server closes the socket; what the page sends meanwhile is queued, and goes
        # out once the bridge has reconnected by itself.
        self.run_js("""
            echo.socket.addEventListener('close', function queueOne() {
                echo.socket.removeEventListener('close', queueOne);
                echo.send({queued: true});
                record('queued', echo.socket.queuedMessages, echo.socket.readyState);
            });
            echo.send({please: 'close'});
        """)
        events = self.wait_for_event(["echo", {"echo": {"queued": True}}, None])
        self.assertIn(["echo", {"closing": True}, None], events)
        self.assertIn(["echo-close", 1000], events)
        self.assertIn(["queued", 1, 0], events)  # one message waiting, socket CONNECTING
        opens = [index for index, event in enumerate(events) if event == ["echo-open"]]
        self.assertEqual(len(opens), 2)
        self.assertLess(events.index(["queued", 1, 0]), opens[1])  # queued before reopening
        self.assertEqual(self.browser.execute_script("return echo.socket.queuedMessages"), 0)

        self.assertEqual([event for event in events if event[0] == "unexpected"], [])
        self.run_js("echo.socket.close(); streams.socket.close()")
