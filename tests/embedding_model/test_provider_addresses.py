"""The addresses the connection form refuses (finding 8 of issue 11), without any network."""

from __future__ import annotations

import pytest

from reclio_admin.outbound.addresses import AddressRefused, check_provider_url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[fd00:ec2::254]/latest/",
        "http://[fe80::1]:11434",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://0xa9.0xfe.0xa9.0xfe/",  # and in hexadecimal parts
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
        "http://100.100.100.200/latest/meta-data/",
        "http://0.0.0.0:11434",
    ],
)
def test_link_local_and_metadata_addresses_are_refused(url: str) -> None:
    with pytest.raises(AddressRefused):
        check_provider_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434",
        "http://localhost:8080/v1",
        "http://[::1]:11434",
        "http://10.0.0.5:8000/v1",
        "http://192.168.1.20:11434",
    ],
)
def test_loopback_and_private_hosts_are_allowed(url: str) -> None:
    check_provider_url(url)
