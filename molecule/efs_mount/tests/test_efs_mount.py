"""protea.platform.efs_mount inside the converged container. The kernel has no
NFS client, so nothing is mounted: these tests prove the fstab entry is what
mount(8) will use at boot on AWS, parsed by util-linux itself."""
import os

import pytest

# molecule/web_host runs these tests with its own mount point, owner and mode.
MOUNT = os.environ.get("PROTEA_EFS_MOUNT_PATH") or "/srv/shared"
OWNER = os.environ.get("PROTEA_EFS_MOUNT_OWNER") or "www-data"
MODE = int(os.environ.get("PROTEA_EFS_MOUNT_MODE") or "0750", 8)
SERVER = "fs-0123456789abcdef0.efs.af-south-1.amazonaws.com"
OPTIONS = "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev"


@pytest.fixture(scope="module")
def entry(host):
    """The fstab entry for /srv/shared, as findmnt parses it."""
    out = host.check_output(f"findmnt --fstab --noheadings --raw -o SOURCE,TARGET,FSTYPE,OPTIONS {MOUNT}")
    assert len(out.splitlines()) == 1, out
    source, target, fstype, options = out.split()
    return {"source": source, "target": target, "fstype": fstype, "options": options}


def test_nfs_client_installed(host):
    assert host.package("nfs-common").is_installed
    assert host.file("/sbin/mount.nfs4").exists


def test_fstab_entry(entry):
    assert entry["source"] == f"{SERVER}:/"
    assert entry["fstype"] == "nfs4"
    assert entry["options"] == OPTIONS


def test_fstab_verifies(host):
    out = host.run("findmnt --verify --verbose --tab-file /etc/fstab")
    assert out.rc == 0, out.stdout + out.stderr
    # util-linux words a clean table two ways: with warnings ("0 parse errors, 0 errors, N
    # warnings") or without ("Success, no errors or warnings detected").
    text = out.stdout + out.stderr
    assert "0 parse errors, 0 errors" in text or "Success, no errors or warnings detected" in text, text


def test_fake_mount_resolves_and_accepts_the_entry(host):
    # -f: everything but the mount(2) call, including the NFS helper's option
    # parsing and the server name lookup (from the platform's /etc/hosts entry).
    out = host.run("mount -a -f -v -t nfs4")
    assert out.rc == 0, out.stdout + out.stderr
    assert MOUNT in out.stdout + out.stderr


def test_server_name_resolves(host):
    assert host.addr(SERVER).is_resolvable


def test_mount_point(host):
    d = host.file(MOUNT)
    assert d.is_directory
    assert d.user == OWNER and d.group == OWNER
    assert d.mode == MODE


def test_nothing_is_mounted_here(host):
    # Honest about what this test cannot prove: no NFS in this kernel.
    assert not host.mount_point(MOUNT).exists
