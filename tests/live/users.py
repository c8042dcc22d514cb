"""A user of the live server, as a browser would be: signed up and logged in through the pages."""

import httpx

PASSWORD = "live-test-password-42"


class LiveUser:
    def __init__(self, base_url: str, username: str):
        self.base_url = base_url
        self.username = username
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.user_id = None

    def sign_up(self) -> "LiveUser":
        self.http.get("/accounts/signup/")
        response = self.http.post(
            "/accounts/signup/",
            data={
                "username": self.username,
                "password1": PASSWORD,
                "password2": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
        )
        assert response.status_code == 302, response.text
        self.http.close()
        self.http = httpx.Client(base_url=self.base_url, timeout=10)
        return self

    def log_in(self) -> "LiveUser":
        self.http.get("/accounts/login/")
        response = self.http.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
        )
        assert response.status_code == 302 and "sessionid" in self.http.cookies, response.text
        self.user_id = self.api("GET", "/api/me").json()["userId"]
        return self

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken", "")}
        return self.http.request(method, path, headers=headers, **kwargs)

    def find(self, other: "LiveUser") -> str:
        """Look ``other`` up by username, as a person starting a chat does (only people found,
        or met in a chat, can be added to chats by id); their user id."""
        found = self.api("GET", "/api/users", params={"username": other.username})
        assert found.status_code == 200, found.text
        return found.json()["users"][0]["userId"]

    def direct_chat(self, other: "LiveUser") -> str:
        """The id of the direct chat with ``other`` (made if new)."""
        response = self.api(
            "POST", "/api/chats", json={"chatType": "direct", "participants": [self.find(other)]}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()["chatId"]

    def socket_headers(self) -> dict:
        return {"Cookie": f"sessionid={self.http.cookies['sessionid']}"}

    def history(self, chat_id: str) -> list[dict]:
        """The whole stored history, oldest first, through the catch-up API."""
        messages, after = [], 0
        while True:
            page = self.api("GET", f"/api/chats/{chat_id}/messages", params={"afterSeq": after})
            assert page.status_code == 200, page.text
            body = page.json()
            messages += body["messages"]
            if not body["hasMore"]:
                return messages
            after = body["messages"][-1]["seq"]
