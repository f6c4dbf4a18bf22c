/*
 * Ferry firmware-stub: Multiboot entry, long-mode switch, AP trampoline, exception stubs,
 * the ring-3 entry and the helper-role placeholder.
 *
 * Every instruction here runs in ring 0, which kvm-pvm emulates at ~2 M instructions/s, so the
 * paths are straight-line and table set-up costs a handful of stores (1 GiB pages).
 */
#include "ferry.h"

/* Multiboot header (Multiboot spec 0.6.96, 3.1). An ELF image, so no a.out kludge (bit 16):
 * bit 0 = page-align modules, bit 1 = provide mem_* and the memory map. */
#define MB_HEADER_MAGIC 0x1badb002
#define MB_HEADER_FLAGS 0x00000003

        .section .multiboot, "a"
        .balign 4
        .long MB_HEADER_MAGIC
        .long MB_HEADER_FLAGS
        .long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

/* ------------------------------------------------------------------------------------------ */
        .section .text.boot, "ax"
        .code32
        .globl _start32
_start32:
        /* Multiboot spec 3.2: EAX = 0x2BADB002, EBX = info, flat segments, no paging, IF = 0.
         * No stack is needed until long mode. */
        cld
        mov     %eax, %edi
        mov     %ebx, %esi
        rdtsc
        mov     %eax, boot_info + BOOT_INFO_BOOT_TSC
        mov     %edx, boot_info + BOOT_INFO_BOOT_TSC + 4

        /* CPUID.80000001H:EDX[26] = 1-GByte pages (SDM Vol. 2A, CPUID). */
        mov     $0x80000001, %eax
        cpuid
        bt      $26, %edx
        jnc     1f
        /* Identity-map 0..4 GiB with four 1 GiB pages; C maps the rest from the memory map. */
        movl    $(0x00000000 + PTE_RAM_LARGE), pdpt
        movl    $(0x40000000 + PTE_RAM_LARGE), pdpt + 8
        movl    $(0x80000000 + PTE_RAM_LARGE), pdpt + 16
        movl    $(0xc0000000 + PTE_RAM_LARGE), pdpt + 24
        movl    $1, boot_info + BOOT_INFO_PAGES_1G
        jmp     2f
1:      /* No 1 GiB pages: 2048 PDEs of 2 MiB for 0..4 GiB (two entries per iteration). */
        mov     $pd_pool, %ebx
        mov     $PTE_RAM_LARGE, %eax
        mov     $1024, %ecx
3:      mov     %eax, (%ebx)
        add     $0x200000, %eax
        mov     %eax, 8(%ebx)
        add     $0x200000, %eax
        add     $16, %ebx
        dec     %ecx
        jnz     3b
        movl    $(pd_pool + 0x0000 + PTE_TABLE), pdpt
        movl    $(pd_pool + 0x1000 + PTE_TABLE), pdpt + 8
        movl    $(pd_pool + 0x2000 + PTE_TABLE), pdpt + 16
        movl    $(pd_pool + 0x3000 + PTE_TABLE), pdpt + 24
2:      movl    $(pdpt + PTE_TABLE), pml4

        /* Enter IA-32e mode (SDM Vol. 3A, 9.8.5): PAE, CR3, EFER.LME, then CR0.PG; the far
         * jump loads a 64-bit code segment. */
        lgdt    gdt_desc
        mov     $CR4_BOOT, %eax
        mov     %eax, %cr4
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     %cr0, %eax
        and     $~(CR0_EM | CR0_CD | CR0_NW), %eax
        or      $CR0_BOOT_SET, %eax
        mov     %eax, %cr0
        ljmp    $SEL_KCODE, $long_entry

        .code64
long_entry:
        mov     $SEL_KDATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        xor     %eax, %eax
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $(kstacks + KSTACK_SIZE), %rsp
        /* Upper halves of GPRs are undefined after leaving 32-bit mode (SDM Vol. 3A, 9.8.5.4). */
        mov     %edi, %edi
        mov     %esi, %esi
        call    kmain_bsp
        jmp     halt_forever

/* ------------------------------------------------------------------------------------------ */
/* AP start-up. Copied to FERRY_AP_TRAMPOLINE by the BSP; a SIPI with vector
 * FERRY_AP_TRAMPOLINE >> 12 starts it in real mode at CS = vector << 8, IP = 0. It goes straight
 * from real mode to long mode (CR0.PE and CR0.PG set together with EFER.LME and CR4.PAE), reusing
 * the BSP's page tables and GDT, all of which lie below 4 GiB. Position-independent: data is
 * addressed relative to CS. */
        .section .text, "ax"
        .code16
        .globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
        cli
        cld
        mov     %cs, %ax
        mov     %ax, %ds
        lgdtl   ap_tramp_gdt_desc - ap_tramp_start
        mov     $CR4_BOOT, %eax
        mov     %eax, %cr4
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     $CR0_BOOT_SET, %eax
        mov     %eax, %cr0
        ljmpl   $SEL_KCODE, $ap_entry64
        .balign 8
ap_tramp_gdt_desc:
        .word   gdt_end - gdt - 1
        .long   gdt
ap_tramp_end:

        .code64
ap_entry64:
        mov     $SEL_KDATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        /* CPU index in arrival order; the BSP is 0. No stack is used before it is known. */
        mov     $1, %eax
        lock xadd %eax, ap_next_index
        cmp     $FERRY_MAX_CPUS, %eax
        jae     halt_forever
        mov     %eax, %edi
        lea     1(%rax), %rsp
        shl     $KSTACK_SHIFT, %rsp
        add     $kstacks, %rsp
        call    kmain_ap
        /* fall through */
        .globl halt_forever
halt_forever:
        cli
        hlt
        jmp     halt_forever

/* ------------------------------------------------------------------------------------------ */
/* enter_user(arg, entry, stack_top): first drop to ring 3 on this CPU (SDM Vol. 3A, 6.14.2:
 * IRETQ pops RIP, CS, RFLAGS, RSP, SS). RFLAGS = 2: IF = 0 and IOPL = 0, so ring 3 takes no
 * interrupts and every port access is a #GP. */
        .globl enter_user
enter_user:
        sub     $8, %rdx                /* as if called: RSP % 16 == 8 at function entry */
        pushq   $(SEL_UDATA | 3)
        pushq   %rdx
        pushq   $2
        pushq   $(SEL_UCODE | 3)
        pushq   %rsi
        iretq

/* ------------------------------------------------------------------------------------------ */
/* #UD: a UD2 from ring 3 is a system call (see ferry.h). The ring-3 caller declares RCX,
 * R8-R11 and the argument registers clobbered, so nothing is saved here; the C handler keeps
 * the callee-saved registers. The CPU aligned RSP to 16 before pushing the 5-qword frame. */
        .globl isr_ud
isr_ud:
        testb   $3, 8(%rsp)             /* CS of the interrupted code */
        jz      1f
        mov     %rsp, %rcx              /* struct iret_frame * */
        mov     %rax, %r8               /* call number */
        sub     $8, %rsp
        call    ksyscall
        add     $8, %rsp
        iretq
1:      pushq   $0
        pushq   $6
        jmp     isr_common

/* The LAPIC timer woke a CPU halted in SYS_SLEEP (the only place IF is 1): acknowledge it and
 * return behind the HLT. EOI is a write of 0 to the LAPIC's EOI register (SDM Vol. 3A, 10.8.5). */
        .balign 16
        .globl isr_timer
isr_timer:
        push    %rax
        mov     $(LAPIC_BASE + LAPIC_EOI), %eax
        movl    $0, (%rax)
        pop     %rax
        iretq

/* A spurious APIC interrupt takes no EOI (SDM Vol. 3A, 10.9). */
        .balign 16
        .globl isr_spurious
isr_spurious:
        iretq

/* Every other exception is fatal: push a uniform frame and report it. */
.macro ISR_NOERR vec
        .balign 16
isr_\vec:
        pushq   $0
        pushq   $\vec
        jmp     isr_common
.endm
.macro ISR_ERR vec
        .balign 16
isr_\vec:
        pushq   $\vec
        jmp     isr_common
.endm
        ISR_NOERR 0
        ISR_NOERR 1
        ISR_NOERR 2
        ISR_NOERR 3
        ISR_NOERR 4
        ISR_NOERR 5
        ISR_NOERR 7
        ISR_ERR   8
        ISR_NOERR 9
        ISR_ERR   10
        ISR_ERR   11
        ISR_ERR   12
        ISR_ERR   13
        ISR_ERR   14
        ISR_NOERR 15
        ISR_NOERR 16
        ISR_ERR   17
        ISR_NOERR 18
        ISR_NOERR 19
        ISR_NOERR 20
        ISR_ERR   21
        ISR_NOERR 22
        ISR_NOERR 23
        ISR_NOERR 24
        ISR_NOERR 25
        ISR_NOERR 26
        ISR_NOERR 27
        ISR_NOERR 28
        ISR_ERR   29
        ISR_ERR   30
        ISR_NOERR 31

isr_common:
        push    %rax
        push    %rcx
        push    %rdx
        push    %rbx
        push    %rbp
        push    %rsi
        push    %rdi
        mov     %rsp, %rdi              /* struct fault_frame * */
        and     $-16, %rsp
        call    kfatal_trap
        jmp     halt_forever

        .section .rodata, "a"
        .balign 8
        .globl isr_vectors
isr_vectors:                            /* handler of each exception vector 0..31 */
        .quad isr_0, isr_1, isr_2, isr_3, isr_4, isr_5, isr_ud, isr_7
        .quad isr_8, isr_9, isr_10, isr_11, isr_12, isr_13, isr_14, isr_15
        .quad isr_16, isr_17, isr_18, isr_19, isr_20, isr_21, isr_22, isr_23
        .quad isr_24, isr_25, isr_26, isr_27, isr_28, isr_29, isr_30, isr_31

/* ------------------------------------------------------------------------------------------ */
/* GDT (SDM Vol. 3A, 3.4.5 and 5.2.1): 64-bit code/data for rings 0 and 3, then one 16-byte
 * TSS descriptor per CPU, filled in by each CPU for itself. */
        .section .data, "aw"
        .balign 16
        .globl gdt, gdt_end
gdt:
        .quad   0
        .quad   0x00af9a000000ffff      /* 0x08 ring-0 code, L=1 */
        .quad   0x00cf92000000ffff      /* 0x10 ring-0 data */
        .quad   0x00cff2000000ffff      /* 0x18 ring-3 data */
        .quad   0x00affa000000ffff      /* 0x20 ring-3 code, L=1 */
        .fill   2 * FERRY_MAX_CPUS, 8, 0 /* 0x28.. TSS descriptors */
gdt_end:
        .balign 8
        .word   0
gdt_desc:
        .word   gdt_end - gdt - 1
        .quad   gdt

        .balign 4
        .globl ap_next_index
ap_next_index:
        .long   1

/* ------------------------------------------------------------------------------------------ */
/* Page tables and stacks: an ELF loader zero-fills memsz beyond filesz, so nothing here is
 * cleared at run time (cheap boot). */
        .section .bss, "aw", @nobits
        .balign 4096
        .globl pml4, pdpt, pd_pool, kstacks
pml4:   .skip   4096
pdpt:   .skip   4096
pd_pool: .skip  4096 * PD_POOL_PAGES
kstacks: .skip  KSTACK_SIZE * FERRY_MAX_CPUS

/* ------------------------------------------------------------------------------------------ */
/* Helper role placeholder: the 64-bit ring-0 entry published as helper_entry. The real
 * migration helper replaces it; for now the helper VM's vCPU halts at once (HLT exits to the VMM
 * because the helper VM has no interrupt controller). */
        .section .helper.text, "ax"
        .code64
        .globl helper_entry
helper_entry:
        hlt
        jmp     helper_entry
