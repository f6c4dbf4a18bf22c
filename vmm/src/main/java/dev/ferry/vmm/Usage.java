package dev.ferry.vmm;

/** The -help text. */
final class Usage {
    private Usage() {}

    static final String TEXT = """
            usage: ferry [options]

            Ferry runs one KVM guest with a QEMU-compatible command line.

            Machine:
              -m [size=]SIZE        guest RAM (bare number = MiB; K/M/G/T suffixes), default 128M
              -smp [cpus=]N[,sockets=S,cores=C,threads=T]
                                    number of vCPUs
              -machine TYPE[,accel=kvm], -M TYPE
                                    accepted: ferry, pc, q35, microvm, pc-* (one PC-like machine)
              -accel kvm, -enable-kvm
                                    KVM is the only accelerator
              -cpu host[,+feat,-feat]
                                    the host CPU is passed through
              -name [guest=]NAME    the guest's name
              -S                    do not start the vCPUs (prelaunch)
              -no-reboot            exit instead of rebooting when the guest resets
              -pidfile FILE         write the VMM's process id to FILE

            Boot:
              -kernel FILE          a Multiboot kernel (default: the embedded firmware stub)
              -append CMDLINE       the kernel command line
              -fw_cfg [name=]NAME,string=STR | [name=]NAME,file=FILE
                                    add a fw_cfg file (e.g. opt/ferry/cmdline)

            Console:
              -serial stdio|none|null|file:PATH|unix:PATH[,server=on,wait=off]
              -nographic, -display none
                                    no display; serial on standard I/O

            Management (QMP, see docs/qmp.md):
              -qmp unix:PATH,server=on,wait=off | tcp:HOST:PORT,server=on,wait=off[,allow-remote=on]
              -chardev socket,id=ID,path=PATH,server=on,wait=off  with  -mon chardev=ID,mode=control

            Migration (see docs/migration.md):
              -incoming tcp:HOST:PORT | unix:PATH | file:PATH | defer
                                    wait for an incoming migration instead of booting

            Other:
              -version, -help
              ferry qmp SOCKET [COMMAND [key=value ...]]   QMP client and interactive shell
              ferry migrate --from SRC_QMP --to DST_QMP [...]  live migration, as libvirt does it
            """;
}
