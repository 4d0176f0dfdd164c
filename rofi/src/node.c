/* node.c - does this node run more PEs than it has CPUs for them?
 *
 * Wait loops give the CPU away (sched_yield) only then: a yield lets a PE
 * that shares our core run, but costs a syscall (often a context switch on
 * a VM), during which a waiting target does not read its CQ and so does not
 * answer puts.  Open MPI's yield_when_idle follows the same rule.
 *
 * Each PE publishes the machine it runs on (the kernel's boot id: equal for
 * every process of one kernel, containers and network namespaces included,
 * with its PID namespace: the node-local path needs one) and the CPUs it
 * may run on.  The machine is oversubscribed when the PEs on its kernel
 * outnumber the CPUs in the union of their masks.  ROFI_YIELD=0/1 overrides
 * the decision (e.g. 1 when the application runs threads of its own on the
 * PEs' cores). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rofi_internal.h"

_Static_assert(CPU_SETSIZE <= 64 * ROFI_MASK_WORDS, "a card holds every CPU of a cpu_set_t");

static void own_card(struct rofi_node_card *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f || !fgets(c->boot_id, sizeof c->boot_id, f))
        (void)gethostname(c->boot_id, sizeof c->boot_id - 1); /* not Linux */
    if (f)
        fclose(f);
    c->boot_id[strcspn(c->boot_id, "\n/ ")] = '\0';
    /* One node for the local path (local.c) is one kernel and one PID
     * namespace: /proc/<pid> of a peer must name that peer. */
    struct stat ns;
    size_t n = strlen(c->boot_id);
    if (stat("/proc/self/ns/pid", &ns) == 0)
        snprintf(c->boot_id + n, sizeof c->boot_id - n, ":%llu", (unsigned long long)ns.st_ino);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &set))
                c->cpus[cpu / 64] |= 1ull << (cpu % 64);
    } else {
        c->cpus[0] = 1; /* unknown: count one CPU per PE */
    }
}

int rofi_node_init(void)
{
    static int generation; /* fresh PMI keys if init is retried */
    struct rofi_node_card mine, peer;
    own_card(&mine);
    mine.local = rofi.local_on;
    int sharing = 1; /* PEs on this kernel, this one included */
    uint64_t cpus[ROFI_MASK_WORDS];
    free(rofi.via_local);
    if (!(rofi.via_local = calloc((size_t)rofi.size, 1)))
        return rofi_error(ROFI_ENOMEM, "rofi_init: out of memory");
    rofi.via_local[rofi.rank] = (unsigned char)rofi.local_on;
    memcpy(cpus, mine.cpus, sizeof cpus);
    if (rofi.size > 1) {
        /* A mask of 1024 CPUs is 256 hex digits: within any PMI's values. */
        char key[64], val[512];
        int rc;
        generation++;
        rofi_node_encode(&mine, val, sizeof val);
        snprintf(key, sizeof key, "rofi%d-node", generation);
        if ((rc = rofi_boot_put(key, val, strlen(val) + 1)) || (rc = rofi_boot_fence()))
            return rc;
        for (int pe = 0; pe < rofi.size; pe++) {
            if (pe == rofi.rank)
                continue;
            size_t len = 0;
            if ((rc = rofi_boot_get(pe, key, val, sizeof val, &len)))
                return rc;
            if (len == 0 || val[len - 1] != '\0' || rofi_node_decode(val, &peer))
                return rofi_error(ROFI_EPMI, "rofi_init: PE %d published a malformed node card '%s'",
                                  pe, val);
            /* Processes of one kernel share its CPUs whatever their namespaces
             * (containers, the test bed's network-namespace hosts): they count
             * together against the CPUs in the union of their masks. */
            size_t kernel = strcspn(mine.boot_id, ":"); /* the boot id before the PID ns */
            int same_kernel = !strncmp(peer.boot_id, mine.boot_id, kernel) &&
                              (peer.boot_id[kernel] == ':' || peer.boot_id[kernel] == '\0');
            if (same_kernel) {
                sharing++;
                for (int w = 0; w < ROFI_MASK_WORDS; w++)
                    cpus[w] |= peer.cpus[w];
            }
            if (strcmp(peer.boot_id, mine.boot_id)) {
                /* Found now, from the cards, rather than by the first barrier's timeout. */
                if (!strcmp(rofi.prov_name, "shm") && !same_kernel)
                    return rofi_error(ROFI_ENOPROV,
                                      "rofi_init: provider shm reaches only PEs on its own node, and PE %d "
                                      "runs on another (node %s, ours %s: boot id:PID namespace); choose one that spans nodes "
                                      "(ROFI_PROVIDER=\"tcp;ofi_rxm\", verbs, cxi)",
                                      pe, peer.boot_id, mine.boot_id);
                continue;
            }
            /* The local path to pe needs it on both sides. */
            rofi.via_local[pe] = rofi.local_on && peer.local;
        }
    }
    int ncpus = 0;
    for (int w = 0; w < ROFI_MASK_WORDS; w++)
        ncpus += __builtin_popcountll(cpus[w]);
    /* The override only after the exchange: a PE with ROFI_YIELD set still
     * takes part in it, so PEs with different settings agree on the keys. */
    const char *e = getenv("ROFI_YIELD");
    rofi.yield_when_waiting = e && *e ? atoi(e) != 0 : sharing > ncpus;
    return 0;
}

int rofi_yields_when_waiting(void)
{
    ROFI_CHECK_INIT();
    return rofi.yield_when_waiting;
}
