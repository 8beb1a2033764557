# The seccomp-trap platform's part of the stub code page (see stub.rs): the signal handler at
# 0x100, the restorer at 0x300, the fast path of patched syscall sites at 0x340, the start of a
# stub process or thread the handler made at 0x600, then the host calls the handler makes for
# the sentry (`exec_calls`). GNU as, Intel syntax; `as --64` and `objcopy -O binary -j .text` give the page's bytes from 0x100 on, which
# stub.rs holds as a listing (its test `handler_bytes_are_their_assembly` checks they agree).
# Offsets below are those of `stub::slot`, relative to the slot's base (the alternate stack is
# inside the slot, so masking rsp finds it in the handler; gs_base holds it in the fast path).
#
# The handler's entry check: the sentry's interrupt signal can arrive while stub code runs on
# behalf of the fast path (which runs with signals unblocked). If the fast path is entering or
# the sentry holds the thread (PHASE != FAST_RESUMED), the signal is dropped: the sentry keeps
# its interrupt pending and reports it at its next switch. If the sentry already resumed the
# thread (FAST_RESUMED) but it has not reached the application yet, the handler reports the
# interrupt as if it came at the resume point: it copies the fast frame's registers and XSAVE
# area into its own signal frame, applies a pending fs_base, and goes on as for any signal.
        .intel_syntax noprefix
        .text
        .set STATE, 0x00
        .set SIGINFO, 0x08
        .set UCONTEXT, 0x10
        .set FS_BASE, 0x18
        .set NEW_FS_BASE, 0x20
        .set SET_FS, 0x28
        .set SENTRY_SLEEPING, 0x30
        .set STUB_SLEEPING, 0x34
        .set SPIN_LIMIT, 0x38
        .set EXEC_COUNT, 0x40
        .set EXEC_CALLS, 0x400
        .set EXEC_CALL_SIZE, 0x40
        .set EXEC_RESULT, 0x38
        .set EXEC_MAX, 0x4
        .set FD_CMSG, 0x260
        .set FD_ARG, 0xffffffffffffff00
        .set PHASE, 0x80
        .set XMASK, 0x88
        .set FP_LEN, 0x90
        .set FAST_ENTERING, 0x1
        .set FAST_RESUMED, 0x2
        .set ALTSTACK_END, 0xb000
        .set FAST_STACK, 0xb100
        .set FAST_SI, 0xb100
        .set FAST_UC, 0xb180
        .set G, FAST_UC + 40
        .set FAST_FP, 0xb400
        .set TRAPPED, 0x1
        .set RESUME, 0x2
        .set EXEC, 0x3
        .set INTERRUPT_SIGNAL, 0x11
        .set SLOTS_BASE, 0x7ff000100000
        .set SLOTS_LEN, 0x2000000
        .set FORK_CHILD_NR, 0xffffffff
page:
        .org 0x100, 0xcc
handler:
        # rdi = signo, rsi = siginfo, rdx = ucontext, rsp on the slot's alternate stack.
        cmp edi, INTERRUPT_SIGNAL
        jne handler_main
        mov rax, [rdx + 40 + 16*8]          # the interrupted rip
        lea rcx, [rip + page]
        sub rax, rcx
        cmp rax, 0x1000
        jae handler_main                    # application code: report it
        cmp rax, OFFSET fast_entry - page
        je ignore                           # fast path, first instruction not run yet
        mov rax, rsp
        and rax, -0x10000                   # slot base
        cmp dword ptr [rax + PHASE], FAST_RESUMED
        jne ignore                          # entering, or held by the sentry
        # Resumed but not yet back in the application: report from where it resumes.
        mov r8, rsi
        mov r9, rdx
        lea rsi, [rax + G]
        lea rdi, [rdx + 40]
        mov ecx, 18
        rep movsq
        mov rdi, [r9 + 224]                 # the frame's FP state
        lea rsi, [rax + FAST_FP]
        mov ecx, 464
        rep movsb
        add rsi, 48
        add rdi, 48
        mov ecx, [rax + FP_LEN]
        sub ecx, 512
        rep movsb
        cmp qword ptr [rax + SET_FS], 0
        je 1f
        mov rcx, [rax + NEW_FS_BASE]
        wrfsbase rcx
        mov qword ptr [rax + SET_FS], 0
1:      mov edi, INTERRUPT_SIGNAL
        mov rsi, r8
        mov rdx, r9
        jmp handler_main
ignore:
        ret
handler_main:
        mov rax, rsp
        and rax, -0x10000
        mov [rax + SIGINFO], rsi
        mov [rax + UCONTEXT], rdx
        rdfsbase rcx
        mov [rax + FS_BASE], rcx
        mov r12, rax
report:
        mov ecx, TRAPPED
        xchg [r12 + STATE], ecx
        cmp dword ptr [r12 + SENTRY_SLEEPING], 0
        je 2f
        mov rdi, r12
        mov esi, 1                          # FUTEX_WAKE
        mov edx, 1
        mov eax, 202                        # SYS_futex
        syscall
2:      mov r13d, [r12 + SPIN_LIMIT]
        test r13d, r13d
        je 4f
3:      cmp dword ptr [r12 + STATE], TRAPPED
        jne wait
        pause
        dec r13d
        jnz 3b
4:      mov ecx, 1
        xchg [r12 + STUB_SLEEPING], ecx
wait:
        cmp dword ptr [r12 + STATE], RESUME
        je resume
        cmp dword ptr [r12 + STATE], EXEC
        je exec
        mov rdi, r12
        xor esi, esi                        # FUTEX_WAIT
        mov edx, TRAPPED
        xor r10d, r10d
        mov eax, 202
        syscall
        jmp wait
resume:
        mov dword ptr [r12 + STUB_SLEEPING], 0
        mov dword ptr [r12 + STATE], 0      # RUNNING
        cmp qword ptr [r12 + SET_FS], 0
        je 5f
        mov rcx, [r12 + NEW_FS_BASE]
        wrfsbase rcx
        mov qword ptr [r12 + SET_FS], 0
5:      ret                                 # to the restorer, or to fast_exit
exec:
        mov dword ptr [r12 + STUB_SLEEPING], 0
        jmp exec_calls
handler_end:
        .org 0x300, 0xcc
restorer:
        mov eax, 15                         # SYS_rt_sigreturn
        syscall
        int3
restorer_end:
        .org 0x340, 0xcc
fast_entry:
        # From a patched syscall site: eax = nr, rcx = return address, every other register
        # and the flags the application's; gs_base = this thread's slot.
        mov dword ptr gs:PHASE, FAST_ENTERING
        mov gs:G + 15*8, rsp
        rdgsbase r11
        lea rsp, [r11 + FAST_STACK]
        pushfq
        pop r11
        mov gs:G + 17*8, r11
        mov gs:G + 3*8, r11
        mov gs:G + 14*8, rcx
        mov gs:G + 16*8, rcx
        mov gs:FAST_SI + 24, eax
        mov gs:G + 13*8, rax
        mov gs:G + 0*8, r8
        mov gs:G + 1*8, r9
        mov gs:G + 2*8, r10
        mov gs:G + 4*8, r12
        mov gs:G + 5*8, r13
        mov gs:G + 6*8, r14
        mov gs:G + 7*8, r15
        mov gs:G + 8*8, rdi
        mov gs:G + 9*8, rsi
        mov gs:G + 10*8, rbp
        mov gs:G + 11*8, rbx
        mov gs:G + 12*8, rdx
        rdgsbase rbx
        mov eax, [rbx + XMASK]
        mov edx, [rbx + XMASK + 4]
        xsaveopt64 [rbx + FAST_FP]
        lea rsi, [rbx + FAST_SI]
        lea rdx, [rbx + FAST_UC]
        lea rcx, [rip + fast_exit]
        push rcx
        jmp handler_main
fast_exit:
        rdgsbase rbx
        mov eax, [rbx + XMASK]
        mov edx, [rbx + XMASK + 4]
        xrstor64 [rbx + FAST_FP]
        push qword ptr gs:G + 17*8
        popfq
        mov r8, gs:G + 0*8
        mov r9, gs:G + 1*8
        mov r10, gs:G + 2*8
        mov r11, gs:G + 3*8
        mov r12, gs:G + 4*8
        mov r13, gs:G + 5*8
        mov r14, gs:G + 6*8
        mov r15, gs:G + 7*8
        mov rdi, gs:G + 8*8
        mov rsi, gs:G + 9*8
        mov rbp, gs:G + 10*8
        mov rbx, gs:G + 11*8
        mov rdx, gs:G + 12*8
        mov rax, gs:G + 13*8
        mov rcx, gs:G + 14*8
        mov rsp, gs:G + 15*8
        jmp qword ptr gs:G + 16*8
fast_end:
        .org 0x600, 0xcc
fork_child:
        # The child of a fork the sentry asked for (EXEC of clone): r10 = the fd of its own
        # slot region, r8 = its parent's own fd-passing socket, which it closes (clone ignores
        # both with a fork's flags); its own socket is already in its fd table.
        # Its stack and slot are its parent's (shared) until the mmap: it touches neither.
        # Then it reports at the fast path's entry, with its slot's address still in gs_base,
        # as its first trap; the sentry loads the application's registers there.
        mov r15, r10
        mov r14, r8
        mov rdi, SLOTS_BASE
        mov esi, SLOTS_LEN
        mov edx, 3                          # PROT_READ | PROT_WRITE
        mov r10d, 0x11                      # MAP_SHARED | MAP_FIXED
        mov r8, r15
        xor r9d, r9d
        mov eax, 9                          # SYS_mmap
        syscall
        cmp rax, rdi
        jne fork_child_failed
        mov rdi, r14
        mov eax, 3                          # SYS_close
        syscall
        mov rdi, r15
        mov eax, 3
        syscall
        mov edi, 1                          # PR_SET_PDEATHSIG
        mov esi, 9                          # SIGKILL
        mov eax, 157                        # SYS_prctl
        syscall
child_report:
        # Both kinds of new stub: unblock every signal and report at the fast path's entry.
        push 0                              # an empty signal set
        mov edi, 2                          # SIG_SETMASK
        mov rsi, rsp
        xor edx, edx
        mov r10d, 8
        mov eax, 14                         # SYS_rt_sigprocmask
        syscall
        mov eax, FORK_CHILD_NR
        lea rcx, [rip + fork_child_failed]
        jmp fast_entry
fork_child_failed:
        mov edi, 1
        mov eax, 231                        # SYS_exit_group
        syscall
        ud2
thread_child:
        # The new thread of a clone the sentry asked for (EXEC of clone with CLONE_VM): its
        # stack is the fast path's in its own slot (the clone's stack argument). It points
        # gs_base at that slot, takes the slot's alternate stack (a new thread has none),
        # unblocks every signal and reports at the fast path's entry, like a forked stub.
        mov r12, rsp
        and r12, -0x10000
        wrgsbase r12
        lea rax, [r12 + 0x1000]
        push ALTSTACK_END - 0x1000          # stack_t: ss_size
        push 0                              # ss_flags
        push rax                            # ss_sp
        mov rdi, rsp
        xor esi, esi
        mov eax, 131                        # SYS_sigaltstack
        syscall
        test rax, rax
        jz child_report
thread_child_failed:
        xor edi, edi
        mov eax, 60                         # SYS_exit (this thread only)
        syscall
        ud2
exec_calls:
        # The host calls the sentry asked for (STATE = EXEC): EXEC_COUNT of them (at most
        # EXEC_MAX) at EXEC_CALLS, each its number, six arguments and the raw result stored
        # here, in order, stopping after the first that fails. An argument FD_ARG + k (k < 2)
        # stands for the k-th fd of the last SCM_RIGHTS message received (at FD_CMSG), so one
        # batch can receive fds and use them. A fork's child or a new thread leaves at its
        # clone; everything else reports TRAPPED when the batch ends.
        lea r14, [r12 + EXEC_CALLS]
        mov r15d, [r12 + EXEC_COUNT]
        cmp r15d, EXEC_MAX
        jbe 7f
        mov r15d, EXEC_MAX
7:      test r15d, r15d
        jz report
        mov rcx, [r14 + 8]
        call fd_arg
        mov rdi, rcx
        mov rcx, [r14 + 16]
        call fd_arg
        mov rsi, rcx
        mov rcx, [r14 + 24]
        call fd_arg
        mov rdx, rcx
        mov rcx, [r14 + 32]
        call fd_arg
        mov r10, rcx
        mov rcx, [r14 + 40]
        call fd_arg
        mov r8, rcx
        mov rcx, [r14 + 48]
        call fd_arg
        mov r9, rcx
        mov rax, [r14]
        mov rbx, rax
        syscall
        cmp rbx, 56                         # SYS_clone (the filter allows a fork or a thread)
        jne 8f
        test rax, rax
        jnz 8f
        test edi, 0x100                     # CLONE_VM
        jnz thread_child
        jmp fork_child
8:      mov [r14 + EXEC_RESULT], rax
        cmp rax, -4095
        jae report                          # -4095..-1: it failed
        add r14, EXEC_CALL_SIZE
        dec r15d
        jmp 7b
fd_arg:
        # rcx = an argument; FD_ARG + k becomes the k-th received fd.
        mov rax, rcx
        sub rax, FD_ARG
        cmp rax, 2
        jae 9f
        mov ecx, [r12 + FD_CMSG + 16 + rax*4]
9:      ret
fork_child_end:
        .org 0x800, 0xcc
