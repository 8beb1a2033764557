/* A signal handler that clobbers xmm registers: rt_sigreturn must restore the interrupted
 * FP state, and the handler sees the interrupted values in its ucontext's fpregs. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static volatile uint64_t seen_xmm8, seen_mxcsr_ok, seen_fp_xstate, seen_magic2;

static void on_usr1(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    (void)sig;
    (void)si;
    if (uc->uc_mcontext.fpregs) {
        const uint32_t *e = uc->uc_mcontext.fpregs->_xmm[8].element;
        seen_xmm8 = (uint64_t)e[0] | (uint64_t)e[1] << 32;
    }
    seen_mxcsr_ok = uc->uc_mcontext.fpregs && (uc->uc_mcontext.fpregs->mxcsr & 0x1f80) == 0x1f80;
    /* UC_FP_XSTATE: the frame holds an XSAVE image announced by sw_reserved (magic1) and
     * terminated by magic2 at xstate_size. */
    seen_fp_xstate = uc->uc_flags & 1;
    if (uc->uc_mcontext.fpregs) {
        const uint32_t *sw = (const uint32_t *)&uc->uc_mcontext.fpregs->__glibc_reserved1[12];
        if (sw[0] == 0x46505853u)
            seen_magic2 = *(const uint32_t *)((const char *)uc->uc_mcontext.fpregs + sw[4]) ==
                          0x46505845u;
    }
    uint64_t junk = 0xdeadbeefdeadbeefull;
    __asm__ volatile("movq %0, %%xmm8\n\tmovq %0, %%xmm0" : : "r"(junk) : "xmm8", "xmm0");
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    long pid = getpid(), tid = gettid();
    uint64_t in = 0x1122334455667788ull, out = 0;
    long ret;
    /* xmm8 holds `in` across a tgkill whose handler clobbers xmm8. */
    __asm__ volatile("movq %[in], %%xmm8\n\t"
                     "syscall\n\t"
                     "movq %%xmm8, %[out]\n\t"
                     : [out] "=r"(out), "=a"(ret)
                     : [in] "r"(in), "a"((long)SYS_tgkill), "D"(pid), "S"(tid), "d"((long)SIGUSR1)
                     : "rcx", "r11", "memory", "xmm8");
    printf("tgkill=%ld\n", ret);
    printf("handler saw xmm8 ok=%d mxcsr_ok=%d\n", seen_xmm8 == in, (int)seen_mxcsr_ok);
    printf("uc_fp_xstate=%d magic2=%d\n", (int)seen_fp_xstate, (int)seen_magic2);
    printf("xmm8 restored=%d\n", out == in);
    return 0;
}
