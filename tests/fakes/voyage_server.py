"""A loopback Voyage AI: `POST /v1/embeddings` with a bearer key, answering
`{"object": "list", "data": [{"object": "embedding", "embedding", "index"}], "model",
"usage": {"total_tokens"}}` and Voyage's error shape `{"detail": "…"}`. It checks the real
per-request limits (1,000 texts; 120,000 tokens for voyage-3-large, 320,000 for voyage-3) and
which models take `output_dimension`. Tokens are counted at four characters each, as ours are."""

from __future__ import annotations

import math
from typing import Any

from tests.fakes._server import JSON, Action, FakeServer, Received, fake_vector, json_body

NATIVE_DIMENSIONS = {"voyage-3-large": 1024, "voyage-3": 1024}
OUTPUT_DIMENSIONS = {"voyage-3-large": (256, 512, 1024, 2048)}
BATCH_TOKENS: dict[str, int] = {"voyage-3-large": 120_000, "voyage-3": 320_000}
MAX_TEXTS = 1000
INPUT_TYPES = (None, "query", "document")

_DETAILS = {
    400: "Invalid request.",
    403: "Forbidden.",
    429: "You have exceeded the rate limit of your account. Please wait and try again.",
    500: "An unexpected error occurred.",
    503: "The service is temporarily unavailable.",
}


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class FakeVoyage(FakeServer):
    name = "voyage"

    def __init__(self, api_key: str = "pa-test-fake-voyage-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.models = dict(NATIVE_DIMENSIONS)
        self.batch_tokens = dict(BATCH_TOKENS)  # lower one to see a batch refused

    def own_env(self) -> dict[str, str]:
        return {"VOYAGE_BASE_URL": self.url, "VOYAGE_API_KEY": self.api_key}

    def save_to_settings_row(self) -> None:
        from embeddings.models import ProviderCredential

        ProviderCredential.store({"voyage_base_url": self.url, "voyage_api_key": self.api_key})

    def inputs_of(self, method: str, path: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        raw = body.get("input", [])
        return [raw] if isinstance(raw, str) else [t for t in raw if isinstance(t, str)]

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        if request.path != "/v1/embeddings" or request.method != "POST":
            return self._error(404, "Not Found")
        if request.headers.get("authorization", "") != f"Bearer {self.api_key}":
            return self._error(401, "Provided API key is invalid.")
        if action.kind == "status":
            return self._error(action.status, _DETAILS.get(action.status, "Error."))
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model", ""))
        if model not in self.models:
            supported = ", ".join(sorted(self.models))
            return self._error(400, f"Model {model} is not supported. Supported models are {supported}.")  # fmt: skip
        texts = request.inputs
        if not texts or len(texts) > MAX_TEXTS:
            return self._error(400, f"The batch size limit is {MAX_TEXTS}. Your batch size is {len(texts)}.")  # fmt: skip
        if body.get("input_type") not in INPUT_TYPES:
            return self._error(400, "input_type must be one of None, 'query', 'document'.")
        tokens = sum(count_tokens(text) for text in texts)
        if tokens > self.batch_tokens[model]:
            return self._error(400, f"Request to model '{model}' failed. The max allowed tokens per submitted batch is {self.batch_tokens[model]}. Your batch has {tokens} tokens after truncation. Please lower the number of tokens in the batch.")  # fmt: skip
        dimensions = body.get("output_dimension") or self.models[model]
        if body.get("output_dimension") is not None and dimensions not in OUTPUT_DIMENSIONS.get(model, ()):  # fmt: skip
            return self._error(400, f"output_dimension {dimensions} is not supported by {model}.")
        if action.kind == "wrong-dimension":
            dimensions -= 1
        data = [
            {"object": "embedding", "embedding": fake_vector(text, int(dimensions)), "index": i}
            for i, text in enumerate(texts)
        ]
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"total_tokens": tokens},
        }
        return 200, dict(JSON), json_body(payload)

    def _error(self, status: int, detail: str) -> tuple[int, dict[str, str], bytes]:
        return status, dict(JSON), json_body({"detail": detail})
