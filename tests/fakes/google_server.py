"""A loopback Generative Language API: `POST /v1beta/models/{model}:batchEmbedContents`, with the
key in the `x-goog-api-key` header (or `?key=`), answering `{"embeddings": [{"values": …}]}` and
Google's error shape `{"error": {"code", "message", "status"}}` (a wrong key is a 400 there)."""

from __future__ import annotations

from typing import Any

from tests.fakes._server import JSON, Action, FakeServer, Received, fake_vector, json_body

NATIVE_DIMENSIONS = {"text-embedding-004": 768, "gemini-embedding-001": 3072}
MAX_BATCH = 100

_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class FakeGoogle(FakeServer):
    name = "google"
    retry_after_header = False

    def __init__(self, api_key: str = "AIza-test-fake-google-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.models = dict(NATIVE_DIMENSIONS)

    def own_env(self) -> dict[str, str]:
        return {"GOOGLE_BASE_URL": self.url, "GOOGLE_API_KEY": self.api_key}

    def save_to_settings_row(self) -> None:
        """The key only: the base URL reaches other processes through `env`."""
        from embeddings.models import ProviderCredential

        ProviderCredential.store({"google_api_key": self.api_key})

    def inputs_of(self, method: str, path: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        texts = []
        for item in body.get("requests", []):
            parts = (item.get("content") or {}).get("parts") or []
            texts.append("".join(str(part.get("text", "")) for part in parts))
        return texts

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        prefix, _, rest = request.path.partition("/v1beta/models/")
        model, _, method = rest.partition(":")
        if prefix or method != "batchEmbedContents" or request.method != "POST":
            return self._error(404, f"Method not found: {request.path}")
        key = request.headers.get("x-goog-api-key") or (request.query.get("key") or [""])[0]
        if key != self.api_key:
            return self._error(
                400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID"
            )
        if action.kind == "status":
            message = {
                404: f"models/{model} is not found for API version v1beta, or is not supported for embedContent.",
                429: "Resource has been exhausted (e.g. check quota).",
            }.get(action.status, "An internal error has occurred.")  # fmt: skip
            return self._error(action.status, message, retry_delay=action.retry_after)
        if model not in self.models:
            return self._error(404, f"models/{model} is not found for API version v1beta, or is not supported for embedContent.")  # fmt: skip
        body = request.body if isinstance(request.body, dict) else {}
        requests = body.get("requests", [])
        if len(requests) > MAX_BATCH:
            return self._error(400, f"* BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one batch\n")  # fmt: skip
        embeddings = []
        for item, text in zip(requests, request.inputs, strict=True):
            if item.get("model") != f"models/{model}":
                return self._error(400, f"* BatchEmbedContentsRequest.model: a request's model must be models/{model}\n")  # fmt: skip
            dimensions = int(item.get("outputDimensionality") or self.models[model])
            if action.kind == "wrong-dimension":
                dimensions -= 1
            embeddings.append({"values": fake_vector(text, dimensions)})
        if action.kind == "short":
            embeddings.pop()
        return 200, dict(JSON), json_body({"embeddings": embeddings})

    def _error(
        self, code: int, message: str, *, reason: str = "", retry_delay: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        error: dict[str, Any] = {
            "code": code,
            "message": message,
            "status": _STATUS.get(code, "UNKNOWN"),
        }
        if retry_delay:
            # Google's way of saying Retry-After.
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_delay}s",
                }
            ]
        if reason:
            error["details"] = [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }]  # fmt: skip
        return code, dict(JSON), json_body({"error": error})
