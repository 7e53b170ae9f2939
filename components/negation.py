"""What a message says a fact is *not* ("ゴールドではなく", "不是银牌", "クラウド系じゃない").

One home for the negation rule, read by the entity extractor (components/entities.py) and
by the actions (words that answer a pending question, actions/actions.py). Standard
library only: the action server imports it without Rasa.
"""

from __future__ import annotations

import re
from typing import Any

# Facts with exactly two values: "not one" means "the other".
OTHER_VALUE = {
    "support_kind": {"on_premises": "cloud", "cloud": "on_premises"},
    "competency_kind": {"cloud": "other", "other": "cloud"},
    "cloud_route": {"signature": "csp", "csp": "signature"},
    "contract_state": {"linked": "expired", "expired": "linked"},
    # Not an entity: the membership question's cue words ("不是没有会员" has one).
    "has_membership": {"yes": "no", "no": "yes"},
}
# A role that the partner says they do not have leaves them without an admin role.
NO_ROLE = ("partner_role", "none")
BOTH_VALUES = "both"

# Japanese negates after the noun (ゴールドではなく, オンプレじゃない), Chinese before it
# (不是银牌, 不属于云). A few characters may stand between (クラウドのコンピテンシーではない,
# 不属于云那一类), but never a clause break or another entity.
JA_NEGATION_AFTER = re.compile(
    r"^[^、。,.!?！？\n]{0,12}?((では|じゃ|でも|で)(なく|無く|ない|なかった|ありません|ございません)"
    r"|とは違|以外|は(以前|前|昔)の(話|こと|もの)"
    # 期限切れってことはない, クラウドの分類には入ってない, 該当しません, 期限切れにはなっていない
    r"|(って|という)?(こと|わけ)(は|では|じゃ)?(ない|無い|ありません)"
    r"|(に|には)?(入ってい?|入ら|入り|該当し|当てはまら|当てはまり|属さ|属してい?|なってい?|なら|なり)"
    r"(ない|ません|なかった)"
    # 追加した覚えは一度もない, 追加したことがない
    r"|た?(覚え|記憶|こと)(は|が|も)?(一度も|いちども|全然|まったく|全く)?(ない|無い|ありません|ございません)"
    # クラウド系のコンピテンシーは持っていないです / は取ってないです / のほうは契約していない /
    # 取れてなくて (could not get)
    r"|(は|を|も)?(持っ|もっ|取っ|とっ|取れ|とれ|取得し|取得でき|保有し|契約し|加入し|購入し|使っ|利用し)"
    r"てい?(ない|なく|ません|なかった))")
# "期限は切れてるんじゃないかと", "ゴールドではないでしょうか": a guess that it *is* (not
# "じゃないかも", which may not be).
JA_PRESUMPTIVE = re.compile(
    r"^[^、。,.!?！？\n]{0,12}?(では|じゃ)(ない|無い)(ん|の)?(です|でしょう|でしょ|だろう)?か(?!も)")
# "CSPとしてお客様の代わりに出すわけではありません": what is done "as X" is denied, so X is.
JA_NOT_AS = re.compile(
    r"^として(は)?[^、。,.!?！？\n]{0,24}?(わけ|の|ん)(では|じゃ)(ない|無い|なく|ありません|ございません)")
# "クラウドコンピテンシーがない場合": absent, said right after the entity (not "オンプレの
# インシデントがない", where the incidents are absent).
JA_ABSENT = re.compile(r"^\s*(系の?|の)?(コンピテンシー)?"
                       r"((が|は)(ない|無い|ありません|ございません|なかった)|なし|無し)")
# "前に同じ契約を追加した、とかではないです": the clause that ends in the entity is denied
# (right after it only, so an entity earlier in that clause is not).
# "期限切れになっている、ということはない" too.
JA_DENIED_CLAUSE = re.compile(
    r"^(になっている|になってる|になった|になって|している|した|た)?[、,]?\s*(とか|なんて|という|って)(わけ|こと)?"
    r"(は|では|じゃ)(ない|無い|なく|ありません|ございません)")
# "X不对", "X应该改成Y": X is wrong; "X是以前的": X no longer holds; "跟X没关系": not X. (Not "X不是": in
# "是云不是本地" that 不是 negates 本地.)
ZH_NEGATION_AFTER = re.compile(
    r"^[^，。,.!?！？\n]{0,3}(不对|错了|是错的|改成|换成|改为|是(以前|之前|过去)的|没关系|没有关系|沒關係|无关|無關|不相关)")
# Further after X: "X我们一个都没拿到", "X那些产品我们基本都不用了", "X那条路我们用不上",
# "以前从没把合同关联过", "X我们还没有拿到".
ZH_NEGATED_LATER = re.compile(
    r"^[^，。,.!?！？\n]{0,12}?((一个|一项|一样)?(都|也)(没|沒|不)(有|拿|用|算|是|属于|屬於|需要|涉及)"
    r"|用不上|用不了|用不到|不适用|不適用|没法用|不能用|不涉及"
    r"|从没|从来没|从未|從沒|從來沒|從未"
    r"|(还|還)?(没|沒)有?(拿到|获得|獲得|取得|持有|拥有|擁有|加入|购买|購買|签))")
# "其他资格？我们应该不算那种": X echoed as a question, then denied.
ZH_ECHO_DENIED = re.compile(r"^\s*[？?]\s*[^，。？?\n]{0,8}?(不算|不是|不属于|不屬於)"
                            r"(那种|那類|那类|这种|這種|这类|那个|這個|这个)")
ZH_NEGATION_BEFORE = re.compile(
    # (?<!…): 是不是 / 算不算 / 属不属于 ask a question, they do not negate.
    r"((?<!是)不是|并非|並非|(?<!属)不属于|不屬於|(?<!算)不算|而非|不走|不用|没用|没有用|不在|没有|沒有)"
    r"[^，。,.!?！？\n是]{0,4}$"
    # 不是那种帮客户转售的 CSP: a modifier ending in 的 stands between
    r"|(不是|并非|並非)[^，。,.!?！？\n是]{0,12}的(那类|那种|这类|这种|那個|那个)?\s*$"
    # 从没在别的地方添加过: "never" reaches a little further
    r"|(从没有?|从来没有?|从未|從沒有?|從來沒有?|從未)[^，。,.!?！？\n是]{0,8}$"
    r"|(没有?|未|非)$")
JA_NEGATION_BEFORE = re.compile(r"(非)$")
# Right after a verb stem among the cue words ("期限が切れてない", "加入してません"); a
# noun is never directly followed by て, so entities are not affected.
JA_VERB_NEGATION = re.compile(r"^[てで]い?(ない|無い|ません|なかった)")
# After a word that ends in a verb's て-form ("入ってい" + "ません", "契約して" + "いません"),
# not after a noun or an adjective ("ないわけでは" + "ないんです" stays a double negation).
JA_TE_FORM_NEGATION = re.compile(r"^い?(ない|無い|ません|なかった)")
TE_FORM_ENDINGS = "いてでイテデ"


def is_negated(text: str, entity: dict[str, Any], others: list[dict[str, Any]]) -> bool:
    """Whether the text around the entity negates it, without reaching another entity."""
    start, end = entity["start"], entity["end"]
    after_limit = min([o["start"] for o in others if o["start"] >= end] + [len(text)])
    before_limit = max([o["end"] for o in others if o["end"] <= start] + [0])
    after, before = text[end:after_limit], text[before_limit:start]
    if JA_PRESUMPTIVE.match(after):
        return False
    return bool(JA_NEGATION_AFTER.match(after) or ZH_NEGATION_AFTER.match(after)
                or JA_ABSENT.match(after) or JA_DENIED_CLAUSE.match(after) or JA_NOT_AS.match(after)
                or ZH_NEGATED_LATER.match(after) or ZH_ECHO_DENIED.match(after)
                or JA_VERB_NEGATION.match(after)
                or (text[start:end].endswith(tuple(TE_FORM_ENDINGS)) and JA_TE_FORM_NEGATION.match(after))
                or ZH_NEGATION_BEFORE.search(before) or JA_NEGATION_BEFORE.search(before))
