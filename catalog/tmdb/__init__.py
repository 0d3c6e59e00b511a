"""TMDb as a source of the catalog: its HTTP API (`client`), how its answers become catalog
fields (`mapping`), and the content sync that brings its changes in (`sync`)."""
