/* init.c - rofi_init / rofi_finalize: bootstrap, open the fabric objects,
 * exchange endpoint addresses through PMI, start progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rofi_internal.h"

struct rofi_state rofi = {
    .alloc_lock = PTHREAD_RWLOCK_INITIALIZER,
};

int rofi_select_provider(const char *provs, const char *doms, struct fi_info **out,
                         int *has_atomic);

/* Close whatever is open, in reverse order of creation.  Every error path
 * comes here: shm leaves 16 MiB /dev/shm files behind unless fi_close runs. */
static void teardown(void)
{
    /* First: exit() from a signal handler during teardown (libinfinipath's
     * SIGTERM handler does that when a launcher stops the job) must not
     * run it again from rofi_atexit on half-closed objects (t_exitsig). */
    rofi.initialized = 0;
    rofi_progress_stop();
    rofi_alloc_free_all();
    rofi_team_free_all();
    if (rofi.ep)
        fi_close(&rofi.ep->fid);
    if (rofi.cq)
        fi_close(&rofi.cq->fid);
    if (rofi.av)
        fi_close(&rofi.av->fid);
    if (rofi.domain)
        fi_close(&rofi.domain->fid);
    if (rofi.fabric)
        fi_close(&rofi.fabric->fid);
    fi_freeinfo(rofi.info);
    free(rofi.addrs);
    free(rofi.via_local);
    rofi.via_local = NULL;
    rofi.ep = NULL;
    rofi.cq = NULL;
    rofi.av = NULL;
    rofi.domain = NULL;
    rofi.fabric = NULL;
    rofi.info = NULL;
    rofi.addrs = NULL;
    atomic_store(&rofi.outstanding, 0);
}

static int open_fabric(void)
{
    struct fi_info *fi = rofi.info;
    struct fi_av_attr av_attr = { .type = FI_AV_UNSPEC, .count = (size_t)rofi.size };
    struct fi_cq_attr cq_attr = {
        .format = FI_CQ_FORMAT_TAGGED, /* context + len + tag for receives */
        .wait_obj = FI_WAIT_NONE,      /* we poll                            */
        .size = fi->tx_attr->size + fi->rx_attr->size,
    };
    int rc;

    if ((rc = fi_fabric(fi->fabric_attr, &rofi.fabric, NULL)))
        return rofi_fi_error("fi_fabric", rc);
    if ((rc = fi_domain(rofi.fabric, fi, &rofi.domain, NULL)))
        return rofi_fi_error("fi_domain", rc);
    if ((rc = fi_av_open(rofi.domain, &av_attr, &rofi.av, NULL)))
        return rofi_fi_error("fi_av_open", rc);
    if ((rc = fi_cq_open(rofi.domain, &cq_attr, &rofi.cq, NULL)))
        return rofi_fi_error("fi_cq_open", rc);
    if ((rc = fi_endpoint(rofi.domain, fi, &rofi.ep, NULL)))
        return rofi_fi_error("fi_endpoint", rc);
    if ((rc = fi_ep_bind(rofi.ep, &rofi.av->fid, 0)))
        return rofi_fi_error("fi_ep_bind(av)", rc);
    /* No FI_SELECTIVE_COMPLETION: every operation reports to the CQ. */
    if ((rc = fi_ep_bind(rofi.ep, &rofi.cq->fid, FI_TRANSMIT | FI_RECV)))
        return rofi_fi_error("fi_ep_bind(cq)", rc);
    if ((rc = fi_enable(rofi.ep)))
        return rofi_fi_error("fi_enable", rc);
    return 0;
}

/* Publish our endpoint name, fence, read everyone's, insert into the AV. */
static int exchange_addresses(void)
{
    static int generation; /* fresh PMI keys if init is retried */
    char name[512], key[64];
    size_t len = sizeof name;
    int rc;

    if ((rc = fi_getname(&rofi.ep->fid, name, &len)))
        return rofi_fi_error("fi_getname", rc);
    generation++;
    snprintf(key, sizeof key, "rofi%d-ep", generation);
    if ((rc = rofi_boot_put(key, name, len)) || (rc = rofi_boot_fence()))
        return rc;
    if (!(rofi.addrs = calloc((size_t)rofi.size, sizeof *rofi.addrs)))
        return rofi_error(ROFI_ENOMEM, "rofi_init: out of memory");
    for (int pe = 0; pe < rofi.size; pe++) {
        if ((rc = rofi_boot_get(pe, key, name, sizeof name, &len)))
            return rc;
        rc = fi_av_insert(rofi.av, name, 1, &rofi.addrs[pe], 0, NULL);
        if (rc != 1)
            return rofi_fi_error("fi_av_insert", rc < 0 ? rc : -FI_EINVAL);
    }
    return 0;
}

/* Decide everything that depends on the returned fi_info, never on names. */
static void read_info(void)
{
    struct fi_info *fi = rofi.info;
    uint64_t mode = (uint64_t)fi->domain_attr->mr_mode;
    rofi.mr_virt_addr = !!(mode & FI_MR_VIRT_ADDR);
    rofi.mr_prov_key = !!(mode & FI_MR_PROV_KEY);
    rofi.mr_endpoint = !!(mode & FI_MR_ENDPOINT);
    rofi.mr_local = !!(mode & FI_MR_LOCAL) || !!(fi->mode & FI_LOCAL_MR);
    /* FI_MR_ALLOCATED: our allocations are always backed, nothing to do. */
    atomic_store(&rofi.next_key, 1);
    rofi.max_msg = fi->ep_attr->max_msg_size ? fi->ep_attr->max_msg_size : SIZE_MAX;
    snprintf(rofi.prov_name, sizeof rofi.prov_name, "%s", fi->fabric_attr->prov_name);
    snprintf(rofi.dom_name, sizeof rofi.dom_name, "%s", fi->domain_attr->name);
}

static int want_progress_thread(void)
{
    const char *e = getenv("ROFI_PROGRESS_THREAD");
    if (e && *e)
        return atoi(e) != 0;
    /* Software providers (tcp;ofi_rxm, shm) move data only when someone
     * reads their CQ: without FI_PROGRESS_AUTO a target that never calls
     * ROFI would stall its initiators. */
    return rofi.info->domain_attr->data_progress != FI_PROGRESS_AUTO;
}

/* A program that exits without rofi_finalize (error path, exit() in a
 * test) still closes its fabric objects: shm removes its /dev/shm files
 * only in fi_close.  Runs before the PMI handler (registered earlier). */
static void rofi_atexit(void)
{
    if (rofi.initialized)
        teardown();
}

int rofi_init(const char *provider, const char *domain)
{
    static int atexit_set;
    int rc;
    if (rofi.initialized)
        return rofi_error(ROFI_ESTATE, "rofi_init: already initialized");
    if ((rc = rofi_boot_init(&rofi.rank, &rofi.size)))
        return rc;
    if (!provider)
        provider = getenv("ROFI_PROVIDER");
    if (!domain)
        domain = getenv("ROFI_DOMAIN");
    if ((rc = rofi_select_provider(provider, domain, &rofi.info, &rofi.has_atomic)))
        return rc;
    read_info();
    if ((rc = rofi_local_init()) || (rc = open_fabric()) || (rc = exchange_addresses()) || (rc = rofi_node_init()))
        goto fail;
    if (rofi.has_atomic)
        rofi_atomic_probe();
    if (want_progress_thread() && (rc = rofi_progress_start()))
        goto fail;
    if ((rc = rofi_team_get(NULL, 0, &rofi.world)))
        goto fail;
    rofi.initialized = 1;
    if (!atexit_set)
        atexit_set = atexit(rofi_atexit) == 0;
    /* A first fabric barrier proves every pair can talk before we return. */
    if ((rc = rofi_team_barrier(rofi.world)))
        goto fail;
    return 0;
fail:
    teardown();
    return rc;
}

int rofi_finalize(void)
{
    ROFI_CHECK_INIT();
    /* Peers may still be reading our memory until they pass this barrier. */
    int rc = rofi_team_barrier(rofi.world);
    teardown();
    int rc2 = rofi_boot_finalize();
    return rc ? rc : rc2;
}

int rofi_get_size(void)
{
    ROFI_CHECK_INIT();
    return rofi.size;
}

int rofi_get_id(void)
{
    ROFI_CHECK_INIT();
    return rofi.rank;
}

const char *rofi_provider_name(void)
{
    return rofi.initialized ? rofi.prov_name : "";
}

const char *rofi_domain_name(void)
{
    return rofi.initialized ? rofi.dom_name : "";
}
