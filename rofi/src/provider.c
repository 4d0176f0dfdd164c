/* provider.c - choose the libfabric provider/domain.
 *
 * The user names providers and domains exactly ("tcp;ofi_rxm", "shm",
 * "lo"), optionally as comma-separated preference lists.  We ask
 * fi_getinfo only for what ROFI needs (RDM endpoint, FI_RMA, FI_TAGGED for
 * barrier/allgather/send-recv) and accept any MR mode we know how to honor.
 * FI_ATOMIC is tried first and dropped if that finds nothing, so a provider
 * without atomics still works (rofi_atomic_supported says no).  Nothing
 * matching is an error that lists what is available - never a fallback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rofi_internal.h"

#define ROFI_FI_VERSION FI_VERSION(1, 13)

static struct fi_info *make_hints(const char *prov, const char *dom, int atomic)
{
    struct fi_info *h = fi_allocinfo();
    if (!h)
        return NULL;
    h->caps = FI_RMA | FI_TAGGED | (atomic ? FI_ATOMIC : 0);
    h->ep_attr->type = FI_EP_RDM;
    /* Modes we can live with: every op context is a struct rofi_op that
     * starts with a struct fi_context2. */
    h->mode = FI_CONTEXT | FI_CONTEXT2;
    /* MR modes we honor (decided per fi_info at run time, see alloc.c). */
    h->domain_attr->mr_mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY |
                              FI_MR_LOCAL | FI_MR_ENDPOINT;
    /* We serialize every call on the domain ourselves (rofi.lock). */
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    /* data_progress is left to the provider: if its default is
     * FI_PROGRESS_AUTO (hardware providers) we need no progress thread.
     * Forcing AUTO on tcp;ofi_rxm (1.17) works but starts an rxm thread
     * that measured 3-6x slower than our polling thread; and it would run
     * provider code concurrently with ours under FI_THREAD_DOMAIN. */
    if (prov && !(h->fabric_attr->prov_name = strdup(prov)))
        goto oom;
    if (dom && !(h->domain_attr->name = strdup(dom)))
        goto oom;
    return h;
oom:
    fi_freeinfo(h);
    return NULL;
}

/* First entry matching prov/dom exactly (NULL = any), duplicated. */
static struct fi_info *try_one(const char *prov, const char *dom, int atomic)
{
    struct fi_info *hints = make_hints(prov, dom, atomic), *list = NULL, *found = NULL;
    if (!hints)
        return NULL;
    if (fi_getinfo(ROFI_FI_VERSION, NULL, NULL, 0, hints, &list) == 0) {
        for (struct fi_info *i = list; i && !found; i = i->next) {
            if (prov && strcmp(i->fabric_attr->prov_name, prov) != 0)
                continue;
            if (dom && strcmp(i->domain_attr->name, dom) != 0)
                continue;
            found = fi_dupinfo(i);
        }
    }
    fi_freeinfo(list);
    fi_freeinfo(hints);
    return found;
}

static int first_of(struct fi_info *list, struct fi_info *i, int with_domain)
{
    for (struct fi_info *j = list; j != i; j = j->next)
        if (strcmp(j->fabric_attr->prov_name, i->fabric_attr->prov_name) == 0 &&
            (!with_domain || strcmp(j->domain_attr->name, i->domain_attr->name) == 0))
            return 0;
    return 1;
}

/* "prov [dom dom], prov [dom]" of every provider libfabric would offer
 * without a provider/domain restriction (same caps as we ask for). */
static void list_available(char *out, size_t cap)
{
    struct fi_info *hints = make_hints(NULL, NULL, 0), *list = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (!hints || fi_getinfo(ROFI_FI_VERSION, NULL, NULL, 0, hints, &list) != 0 || !list) {
        snprintf(out, cap, "(none: fi_getinfo finds no RDM provider with FI_RMA)");
        fi_freeinfo(hints);
        return;
    }
#define APPEND(...) (len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__))
    for (struct fi_info *i = list; i; i = i->next) {
        if (!first_of(list, i, 0))
            continue;
        APPEND("%s%s [", len ? ", " : "", i->fabric_attr->prov_name);
        const char *sep = "";
        for (struct fi_info *j = i; j; j = j->next)
            if (strcmp(j->fabric_attr->prov_name, i->fabric_attr->prov_name) == 0 &&
                first_of(list, j, 1)) {
                APPEND("%s%s", sep, j->domain_attr->name);
                sep = " ";
            }
        APPEND("]");
    }
#undef APPEND
    if (len >= cap && cap > 4)
        strcpy(out + cap - 4, "...");
    fi_freeinfo(list);
    fi_freeinfo(hints);
}

/* Next entry of a comma-separated list into buf; NULL at the end. */
static const char *next_item(const char **cursor, char *buf, size_t cap)
{
    const char *s = *cursor;
    if (!s || !*s)
        return NULL;
    size_t n = strcspn(s, ",");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *cursor = s[n] ? s + n + 1 : s + n;
    return buf;
}

int rofi_select_provider(const char *provs, const char *doms, struct fi_info **out,
                         int *has_atomic)
{
    char pbuf[256], dbuf[256], avail[4096];
    const char *pc = provs, *p;
    *out = NULL;

    if (provs && !*provs)
        provs = NULL;
    if (doms && !*doms)
        doms = NULL;
    do {
        p = provs ? next_item(&pc, pbuf, sizeof pbuf) : NULL;
        if (provs && !p)
            break;
        const char *dc = doms, *d;
        do {
            d = doms ? next_item(&dc, dbuf, sizeof dbuf) : NULL;
            if (doms && !d)
                break;
            for (int atomic = 1; atomic >= 0; atomic--)
                if ((*out = try_one(p, d, atomic))) {
                    *has_atomic = atomic;
                    return 0;
                }
        } while (doms);
    } while (provs);

    list_available(avail, sizeof avail);
    return rofi_error(ROFI_ENOPROV,
                      "no libfabric provider matches provider=\"%s\" domain=\"%s\" "
                      "(exact names; RDM endpoint with FI_RMA and FI_TAGGED); "
                      "available providers [domains]: %s",
                      provs ? provs : "(any)", doms ? doms : "(any)", avail);
}
