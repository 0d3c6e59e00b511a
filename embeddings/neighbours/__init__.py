"""Nearest neighbours of an item or a text, and why each is there.

- `filters`: what a curator narrows neighbours to, as the ORM and as SQL read it;
- `vector`: a model's nearest vectors (the HNSW walk, or exactly);
- `lexical`: words, their TF-IDF weights, and the nearest term weights; `lexical_rows` keeps
  each item's weights current;
- `blends`: the vector, lexical and hybrid blends; `reasons`: what a neighbour shares;
- `stored`: the models with vectors to search and an item's own vectors; `overlap`: how far two
  top-k lists agree; `titles`: finding an item by its title.
"""
