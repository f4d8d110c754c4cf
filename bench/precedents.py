"""Precedents at registration: the similar-case query over a million archived cases.

A scratch database gets reporting's schema from its own migrations (so the tables, the matter
partitions and the GIN trigram index are the ones production has), then ``rows`` archived
precedents loaded with COPY (the index dropped for the load and rebuilt from its own
definition, as a restore would).
Descriptions are generated from a seed: the district's matters with the problems, people and
circumstances that recur in them, and a share of long ones — many near-duplicates, as in a
real archive, which is the hard case for trigram search (more candidates to compare).

Measured on reporting's own use case (``handlers.similar_cases`` on a real unit of work: the
SQL, the threshold steps and the presentation; the RPC in front of it adds its round trip):

* typical texts as the form sends them while typing — a few characters, a sentence, a whole
  description — each with its matter, and some with none (the whole archive);
* the baseline, in the same run: the same use case with index scans disabled (PostgreSQL
  compares every settled row).
"""

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from bench.harness import Row, percentile
from services.common.config import load_config
from services.common.migrations import migrate_service
from services.common.postgres import Database, open_pool
from services.common.unit_of_work import UnitOfWork
from services.reporting import handlers, precedents, store
from tools import sandbox

SMALL = {"rows": 5_000, "rounds": 2, "baseline_rounds": 1}
SITES = ("HALL", "RS", "GA", "SW", "HY", "XJK", "MYXC", "XWM", "SJC", "HS", "XLW", "XWH")
MATTERS = (
    "企业开办", "个体工商户设立登记", "企业变更登记", "食品经营许可", "住房租赁合同登记备案",
    "公共租赁住房申请", "社会保障卡申领", "灵活就业人员参保登记", "失业保险金申领",
    "就业失业登记", "基本养老保险待遇申领", "居住证办理", "户口迁移", "新生儿入户",
    "居民身份证申领换领", "无犯罪记录证明开具", "增值税发票申领", "个人所得税汇算清缴",
    "新办纳税人涉税事项", "存量房交易税费申报", "结婚登记", "离婚登记", "补领婚姻登记证",
    "婚姻登记档案查询", "最低生活保障申请", "高龄津贴申领", "困难残疾人生活补贴申请",
    "城乡居民医保参保登记", "异地就医备案", "公共场所卫生许可", "不动产登记", "门头招牌设置",
    "民办学校设立", "企业投资项目备案",
)  # fmt: skip
WHO = ("申请人", "企业经办人", "代理人", "老人", "外地务工人员", "房东", "法定代表人", "家属",
       "个体户", "退休职工", "残疾人", "新就业大学生", "外籍人员", "股东")  # fmt: skip
PROBLEMS = (
    "本人无法到场", "材料不齐", "原件遗失", "证明不被认可", "系统无法提交", "信息不一致",
    "需要原单位盖章", "在外地不能回来", "户籍不在本区", "超过办理时限", "缺少房产证",
    "住所使用证明不被认可", "被要求提供无犯罪记录证明", "社保断缴", "网上预约不到号",
    "窗口互相推诿", "不清楚办理流程", "需要夫妻双方到场", "身份证过期", "部门数据未共享",
    "名字中有生僻字系统无法录入", "档案无法调取", "公章已遗失", "委托书未公证",
    "租赁合同未备案", "前置审批未完成", "历史遗留产权不清", "银行账户被冻结",
)  # fmt: skip
DETAILS = (
    "多次往返", "已经跑了三趟", "窗口告知不能办", "要求补充材料", "希望远程视频核验",
    "希望容缺受理", "咨询能否告知承诺", "情况比较急", "已在网上提交过", "部门说不归他们管",
    "急需用于子女入学", "影响企业正常经营", "担心错过补贴发放", "要求出具书面说明",
    "对答复不满意", "希望一次办好",
)  # fmt: skip
STREETS = ("新街口", "梅园新村", "玄武门", "锁金村", "红山", "孝陵卫", "玄武湖")
SUMMARIES = ("经视频连线核验后办结", "容缺受理，承诺后补材料", "已解释政策并告知补办途径",
             "协调部门数据共享后办结", "联席会议明确牵头部门后办结")  # fmt: skip
# (typed text, matter index or None): as the form sends them while a description is typed
QUERIES = (
    ("房东无法到场", 4),
    ("住所使用证明不被认可", 0),
    ("社保断缴", 7),
    ("身份证过期", 14),
    ("在外地不能回来，希望远程视频核验", 30),
    ("办理户口迁移时家属户籍不在本区", 12),
    ("办理企业开办时法定代表人本人无法到场，已经跑了三趟，希望容缺受理", 0),
    ("办理食品经营许可时个体户前置审批未完成，部门说不归他们管，情况比较急，影响企业正常经营", 3),
    ("结婚登记需要夫妻双方到场但一方在外地", 20),
    ("名字中有生僻字系统无法录入", 15),
    ("异地就医备案网上预约不到号", 28),
    ("公章已遗失无法办理变更", 2),
    ("委托书未公证", None),
    ("部门数据未共享，多次往返", None),
    ("宠物疫苗接种证明", 31),  # nothing like it in the archive
    ("历史遗留产权不清的不动产登记", 30),
)


def description(rng: random.Random, matter: str) -> str:
    """One case's description; one in ten is long (several circumstances, a street, dates)."""
    text = f"办理{matter}时{rng.choice(WHO)}{rng.choice(PROBLEMS)}，{rng.choice(DETAILS)}"
    if rng.random() < 0.3:
        text += f"，且{rng.choice(PROBLEMS)}"
    if rng.random() < 0.1:
        for _ in range(rng.randint(3, 8)):
            text += (
                f"；{rng.randint(1, 12)}月{rng.randint(1, 28)}日到{rng.choice(STREETS)}街道"
                f"便民服务中心，{rng.choice(WHO)}{rng.choice(PROBLEMS)}，{rng.choice(DETAILS)}"
            )
    return text


def load_precedents(url: str, count: int, seed: int) -> float:
    """COPY ``count`` archived precedents; the seconds the load and the index rebuild took."""
    rng = random.Random(seed)
    started = time.perf_counter()
    resolved = datetime(2024, 1, 1, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        # a partitioned index's definition reads "ON ONLY": without it, it is made on every
        # partition again, as the migration made it
        index = (
            conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'reporting' "
                "AND indexname = 'precedent_texts_similar'"
            )
            .fetchone()[0]
            .replace(" ON ONLY ", " ON ")
        )
        conn.execute("DROP INDEX reporting.precedent_texts_similar")
        columns = ("case_no", "site", "matter", "description", "search_text", "type",
                   "outcome", "summary", "practice", "state", "state_at", "resolved_at",
                   "settled")  # fmt: skip
        texts = []
        with conn.cursor().copy(
            f"COPY reporting.precedents ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for number in range(count):
                index_of_matter = rng.randrange(len(MATTERS))
                text = description(rng, MATTERS[index_of_matter])
                at = resolved + timedelta(minutes=number)
                case_no, matter = f"XW-BENCH-{number:08d}", f"M{index_of_matter + 1:03d}"
                texts.append((matter, case_no, precedents.search_text(text)))
                copy.write_row(
                    (
                        case_no,
                        rng.choice(SITES),
                        matter,
                        text,
                        texts[-1][2],
                        rng.choice(("cannot", "hard", "refused", "pending")),
                        rng.choice(("done", "done", "explained", "not_done")),
                        rng.choice(SUMMARIES),
                        "租赁备案视频确认房东" if rng.random() < 0.01 else None,
                        "archived",
                        at,
                        at,
                        True,
                    )
                )
        with conn.cursor().copy(
            "COPY reporting.precedent_texts (matter, case_no, search_text) FROM STDIN"
        ) as copy:
            for row in texts:
                copy.write_row(row)
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(index)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE reporting.precedents")
        conn.execute("VACUUM ANALYZE reporting.precedent_texts")
    return time.perf_counter() - started


def measure(url: str, rounds: int, pool_name: str, warm_up: bool = True) -> tuple[dict, int]:
    """Milliseconds of each of :data:`QUERIES` over ``rounds`` rounds (after a warm-up round),
    {text: [ms, ...]}, and how many precedents the last round found in all."""
    pool = open_pool(url, min_size=1, max_size=1, name=pool_name)
    try:
        uow = UnitOfWork(Database(pool), schema="reporting", service="bench", store_module=store)

        samples = {text: [] for text, _ in QUERIES}

        def one_round(record: bool) -> int:
            found = 0
            for text, matter in QUERIES:
                code = None if matter is None else f"M{matter + 1:03d}"
                started = time.perf_counter()
                found += len(handlers.similar_cases(uow, text, code, None, None, 5))
                if record:
                    samples[text].append((time.perf_counter() - started) * 1000)
            return found

        if warm_up:
            one_round(False)
        found = 0
        for _ in range(rounds):
            found = one_round(True)
        return samples, found
    finally:
        pool.close()


def run(
    rows: int = 1_000_000, rounds: int = 20, baseline_rounds: int = 1, seed: int = 15
) -> list[Row]:
    config = load_config()
    name = f"bancheng_bench_precedents_{uuid.uuid4().hex[:6]}"
    url = sandbox.create_database(config["DATABASE_URL"], name)
    try:
        migrate_service(url, "reporting")
        load_seconds = load_precedents(url, rows, seed)
        per_query, found = measure(url, rounds, "bench-precedents")
        assert found > 0, "the typical texts found no precedent: the generator or the query broke"
        # the baseline: the same use case, PostgreSQL comparing every row (new connections)
        with psycopg.connect(url, autocommit=True) as conn:
            for setting in ("enable_bitmapscan", "enable_indexscan"):
                conn.execute(f'ALTER DATABASE "{name}" SET {setting} = off')
        per_scan, found_scanning = measure(
            url, baseline_rounds, "bench-precedents-scan", warm_up=False
        )
        assert found_scanning == found, (found_scanning, found)  # same answers, only slower
    finally:
        sandbox.drop_database(url)
    indexed = [ms for samples in per_query.values() for ms in samples]
    scanned = [ms for samples in per_scan.values() for ms in samples]
    p50, p99 = percentile(indexed, 0.5), percentile(indexed, 0.99)
    base50, base99 = percentile(scanned, 0.5), percentile(scanned, 0.99)
    notes = {
        "rows": rows,
        "queries": len(indexed),
        "baseline_queries": len(scanned),
        "load_and_index_seconds": round(load_seconds, 1),
        "max_ms": round(max(indexed), 1),
        "median_ms_by_text": {
            text: round(percentile(samples, 0.5), 1) for text, samples in per_query.items()
        },
        "baseline_ms_by_text": {
            text: round(percentile(samples, 0.5), 1) for text, samples in per_scan.items()
        },
    }
    return [
        Row(
            "precedents",
            f"similar cases, {rows:,} archived: p50 (ms)",
            p50,
            "ms",
            baseline=base50,
            baseline_name="same query, index scans off",
            target="",
            met=None,
            notes=notes,
        ),
        Row(
            "precedents",
            f"similar cases, {rows:,} archived: p99 (ms)",
            p99,
            "ms",
            baseline=base99,
            baseline_name="same query, index scans off",
            target="≤ 50 ms",
            met=p99 <= 50,
            notes=notes,
        ),
    ]
