//! Region codes (GB/T 2260) in words: "370811" → "山东省济宁市任城区". The platform keeps the
//! provinces, the prefectures of Shandong and Henan (the reports' two provinces) and the
//! county-level divisions of the demo city and of the demo's other birthplaces; a code not
//! listed is named by its prefecture or province and shown with its number.

/// Provinces by their first two digits.
pub const PROVINCES: &[(&str, &str)] = &[
    ("11", "北京市"),
    ("12", "天津市"),
    ("13", "河北省"),
    ("14", "山西省"),
    ("15", "内蒙古自治区"),
    ("21", "辽宁省"),
    ("22", "吉林省"),
    ("23", "黑龙江省"),
    ("31", "上海市"),
    ("32", "江苏省"),
    ("33", "浙江省"),
    ("34", "安徽省"),
    ("35", "福建省"),
    ("36", "江西省"),
    ("37", "山东省"),
    ("41", "河南省"),
    ("42", "湖北省"),
    ("43", "湖南省"),
    ("44", "广东省"),
    ("45", "广西壮族自治区"),
    ("46", "海南省"),
    ("50", "重庆市"),
    ("51", "四川省"),
    ("52", "贵州省"),
    ("53", "云南省"),
    ("54", "西藏自治区"),
    ("61", "陕西省"),
    ("62", "甘肃省"),
    ("63", "青海省"),
    ("64", "宁夏回族自治区"),
    ("65", "新疆维吾尔自治区"),
    ("71", "台湾省"),
    ("81", "香港特别行政区"),
    ("82", "澳门特别行政区"),
];

/// Prefectures by their first four digits (Shandong, Henan).
pub const PREFECTURES: &[(&str, &str)] = &[
    ("3701", "济南市"),
    ("3702", "青岛市"),
    ("3703", "淄博市"),
    ("3704", "枣庄市"),
    ("3705", "东营市"),
    ("3706", "烟台市"),
    ("3707", "潍坊市"),
    ("3708", "济宁市"),
    ("3709", "泰安市"),
    ("3710", "威海市"),
    ("3711", "日照市"),
    ("3713", "临沂市"),
    ("3714", "德州市"),
    ("3715", "聊城市"),
    ("3716", "滨州市"),
    ("3717", "菏泽市"),
    ("4101", "郑州市"),
    ("4102", "开封市"),
    ("4103", "洛阳市"),
    ("4104", "平顶山市"),
    ("4105", "安阳市"),
    ("4106", "鹤壁市"),
    ("4107", "新乡市"),
    ("4108", "焦作市"),
    ("4109", "濮阳市"),
    ("4110", "许昌市"),
    ("4111", "漯河市"),
    ("4112", "三门峡市"),
    ("4113", "南阳市"),
    ("4114", "商丘市"),
    ("4115", "信阳市"),
    ("4116", "周口市"),
    ("4117", "驻马店市"),
];

/// County-level divisions (the demo city's and its other birthplaces').
pub const COUNTIES: &[(&str, &str)] = &[
    ("370102", "历下区"),
    ("370202", "市南区"),
    ("370305", "临淄区"),
    ("370402", "市中区"),
    ("370481", "滕州市"),
    ("370811", "任城区"),
    ("370812", "兖州区"),
    ("370826", "微山县"),
    ("370827", "鱼台县"),
    ("370828", "金乡县"),
    ("370829", "嘉祥县"),
    ("370830", "汶上县"),
    ("370831", "泗水县"),
    ("370832", "梁山县"),
    ("370881", "曲阜市"),
    ("370883", "邹城市"),
    ("371302", "兰山区"),
    ("371702", "牡丹区"),
    ("410402", "新华区"),
    ("410421", "宝丰县"),
    ("411082", "长葛市"),
];

fn find(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// "山东省济宁市任城区" for a known code; the known part and the code otherwise
/// ("山东省（379999）"); the code alone when nothing is known.
pub fn name(code: &str) -> String {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return code.to_string();
    }
    let province = find(PROVINCES, &code[..2]);
    let prefecture = find(PREFECTURES, &code[..4]);
    let county = find(COUNTIES, code);
    let mut out = String::new();
    out.push_str(province.unwrap_or(""));
    out.push_str(prefecture.unwrap_or(""));
    match county {
        Some(c) => out.push_str(c),
        None if out.is_empty() => return code.to_string(),
        None => out.push_str(&format!("（{code}）")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_places() {
        assert_eq!(name("370811"), "山东省济宁市任城区");
        assert_eq!(name("410421"), "河南省平顶山市宝丰县");
        assert_eq!(name("370899"), "山东省济宁市（370899）");
        assert_eq!(name("440305"), "广东省（440305）");
        assert_eq!(name("990000"), "990000");
        assert_eq!(name("3708"), "3708");
        // every county of the demo city is named
        for (c, n, _) in crate::demo::COUNTIES {
            assert!(name(c).ends_with(n), "{c}");
        }
    }
}
