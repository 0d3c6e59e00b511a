"""How the server reaches outside services (the embedding providers, TMDb): one guarded HTTP
client and the outbound-address rule it keeps. Below both `embeddings` and `catalog`, which
import it; it imports neither."""
